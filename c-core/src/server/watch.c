/* watch.c - memcached's `watch` log streams (see watch.h). */
#include "server/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "server/worker.h"
#include "util/uri.h"

int watch_setup(molt_watch *wt) {
    memset(wt, 0, sizeof(*wt));
    return pthread_mutex_init(&wt->lock, NULL) == 0 ? 0 : -1;
}

void watch_teardown(molt_watch *wt) {
    for (int i = 0; i < WATCH_MAX; i++) free(wt->w[i].buf);
    pthread_mutex_destroy(&wt->lock);
}

/* Under the lock: the union of what the watchers want. */
static void publish_events(molt_watch *wt) {
    uint32_t all = 0;
    for (int i = 0; i < WATCH_MAX; i++)
        if (wt->w[i].conn) all |= wt->w[i].events;
    __atomic_store_n(&wt->events, all, __ATOMIC_RELAXED);
}

int watch_add(molt_watch *wt, struct molt_conn *c, struct molt_worker *wk, uint32_t events) {
    char *buf = malloc(WATCH_BUF_BYTES);
    if (buf == NULL) return -1;
    pthread_mutex_lock(&wt->lock);
    int slot = -1;
    for (int i = 0; i < WATCH_MAX && slot < 0; i++)
        if (wt->w[i].conn == NULL) slot = i;
    if (slot >= 0) {
        free(wt->w[slot].buf);
        wt->w[slot] = (molt_watcher){.conn = c, .worker = wk, .events = events, .buf = buf};
        wt->count++;
        publish_events(wt);
    }
    pthread_mutex_unlock(&wt->lock);
    if (slot < 0) free(buf);
    return slot >= 0 ? 0 : -1;
}

void watch_remove(molt_watch *wt, struct molt_conn *c) {
    pthread_mutex_lock(&wt->lock);
    for (int i = 0; i < WATCH_MAX; i++) {
        if (wt->w[i].conn != c) continue;
        free(wt->w[i].buf);
        wt->w[i] = (molt_watcher){0};
        wt->count--;
    }
    publish_events(wt);
    pthread_mutex_unlock(&wt->lock);
}

/* memcached's line for the event (its formats, bare LF). */
static int format_line(char *line, size_t cap, uint64_t gid, uint32_t event,
                       const molt_watch_item *it, int cfd) {
    static const char *const fetch_status[] = {"not_found", "found"};
    static const char *const store_status[] = {"not_stored", "stored", "exists", "not_found"};
    static const char *const cmds[] = {"null", "add", "set", "replace", "append", "prepend", "cas"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char key[URI_ENCODED_MAX(MOLT_KEY_MAX) + 1];
    size_t klen = it->key_len < MOLT_KEY_MAX ? it->key_len : MOLT_KEY_MAX;
    key[uri_encode(key, it->key, klen)] = '\0';
    if (event == MOLT_WATCH_FETCHERS)
        return snprintf(line, cap,
                        "ts=%lld.%d gid=%llu type=item_get key=%s status=%s clsid=%u cfd=%d "
                        "size=%llu\n",
                        (long long)tv.tv_sec, (int)tv.tv_usec, (unsigned long long)gid, key,
                        fetch_status[it->status ? 1 : 0], it->clsid, cfd,
                        (unsigned long long)it->size);
    /* memcached prints the seconds left, unsigned */
    uint32_t ttl = 0;
    if (it->exptime != 0) {
        struct timeval now;
        gettimeofday(&now, NULL);
        ttl = (uint32_t)(it->exptime - (int64_t)now.tv_sec);
    }
    return snprintf(line, cap,
                    "ts=%lld.%d gid=%llu type=item_store key=%s status=%s cmd=%s ttl=%u "
                    "clsid=%u cfd=%d size=%llu\n",
                    (long long)tv.tv_sec, (int)tv.tv_usec, (unsigned long long)gid, key,
                    store_status[it->status < 4 ? it->status : 0],
                    cmds[it->cmd < 7 ? it->cmd : 0], ttl, it->clsid, cfd,
                    (unsigned long long)it->size);
}

/* Under the lock: append to one watcher, or count the line as skipped. */
static void offer(molt_watch *wt, molt_watcher *w, const char *line, size_t n) {
    char skipped[48];
    size_t sn = 0;
    if (w->skipped > 0)
        sn = (size_t)snprintf(skipped, sizeof(skipped), "skipped=%llu\n",
                              (unsigned long long)w->skipped);
    if (w->len + sn + n > WATCH_BUF_BYTES) {
        w->skipped++;
        wt->skipped++;
        return;
    }
    memcpy(w->buf + w->len, skipped, sn);
    memcpy(w->buf + w->len + sn, line, n);
    w->len += sn + n;
    w->skipped = 0;
    wt->sent++;
    if (!w->woken) {
        w->woken = 1;
        worker_wake_watcher(w->worker);
    }
}

/* Under the lock: the line to every watcher of `event`. */
static void offer_all(molt_watch *wt, uint32_t event, const char *line, int n, size_t cap) {
    if (n <= 0 || (size_t)n >= cap) return;
    for (int i = 0; i < WATCH_MAX; i++) {
        molt_watcher *w = &wt->w[i];
        if (w->conn && (w->events & event)) offer(wt, w, line, (size_t)n);
    }
}

void watch_log(molt_watch *wt, uint32_t event, const molt_watch_item *item, int cfd) {
    if (event != MOLT_WATCH_FETCHERS && event != MOLT_WATCH_MUTATIONS) return;
    char line[URI_ENCODED_MAX(MOLT_KEY_MAX) + 256];
    pthread_mutex_lock(&wt->lock);
    uint64_t gid = ++wt->gid;
    int n = format_line(line, sizeof(line), gid, event, item, cfd);
    offer_all(wt, event, line, n, sizeof(line));
    pthread_mutex_unlock(&wt->lock);
}

void watch_evicted(void *ctx, const molt_evicted_item *it) {
    molt_watch *wt = ctx;
    if (!(__atomic_load_n(&wt->events, __ATOMIC_RELAXED) & MOLT_WATCH_EVICTIONS)) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char key[URI_ENCODED_MAX(MOLT_KEY_MAX) + 1];
    size_t klen = it->key_len < MOLT_KEY_MAX ? it->key_len : MOLT_KEY_MAX;
    key[uri_encode(key, it->key, klen)] = '\0';
    /* memcached's: seconds left (-1: never), seconds since the last access */
    long long ttl = it->exptime > 0 ? (long long)(it->exptime - tv.tv_sec) : -1;
    int la = (int)(tv.tv_sec - it->last_access);
    char line[URI_ENCODED_MAX(MOLT_KEY_MAX) + 256];
    pthread_mutex_lock(&wt->lock);
    uint64_t gid = ++wt->gid;
    int n = snprintf(line, sizeof(line),
                     "ts=%lld.%d gid=%llu type=eviction key=%s fetch=%s ttl=%lld la=%d "
                     "clsid=%u size=%llu\n",
                     (long long)tv.tv_sec, (int)tv.tv_usec, (unsigned long long)gid, key,
                     it->fetched ? "yes" : "no", ttl, la, it->class_id,
                     (unsigned long long)it->value_len);
    offer_all(wt, MOLT_WATCH_EVICTIONS, line, n, sizeof(line));
    pthread_mutex_unlock(&wt->lock);
}

int watch_take(molt_watch *wt, struct molt_conn *c, molt_buf *out, size_t max) {
    int left = 0;
    pthread_mutex_lock(&wt->lock);
    for (int i = 0; i < WATCH_MAX; i++) {
        molt_watcher *w = &wt->w[i];
        if (w->conn != c) continue;
        w->woken = 0;
        size_t queued = out->end - out->start;
        size_t n = queued >= max ? 0 : max - queued;
        if (n > w->len) n = w->len;
        /* whole lines only */
        while (n > 0 && n < w->len && w->buf[n - 1] != '\n') n--;
        if (n > 0 && molt_buf_append(out, w->buf, n, max + WATCH_BUF_BYTES) == 0) {
            memmove(w->buf, w->buf + n, w->len - n);
            w->len -= n;
        }
        /* more left: the connection asks again once its output drains,
         * so new lines need not wake the worker */
        if (w->len > 0) w->woken = left = 1;
    }
    pthread_mutex_unlock(&wt->lock);
    return left;
}

void watch_stats(molt_watch *wt, uint64_t *watchers, uint64_t *sent, uint64_t *skipped) {
    pthread_mutex_lock(&wt->lock);
    *watchers = (uint64_t)wt->count;
    *sent = wt->sent;
    *skipped = wt->skipped;
    pthread_mutex_unlock(&wt->lock);
}

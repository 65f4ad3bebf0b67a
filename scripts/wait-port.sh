#!/bin/sh
# Wait (up to 10 s) until something accepts connections on 127.0.0.1:$1.
port=$1
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 200 ] || { echo "nothing listening on 127.0.0.1:$port after 10 s" >&2; exit 1; }
    sleep 0.05
done

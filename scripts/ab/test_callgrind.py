"""`make ab-selftest`: reading callgrind_annotate's output (no valgrind run)."""

from __future__ import annotations

import unittest

import measure_callgrind as cg

ANNOTATE = """\
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
218,719,976 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                   file:function
--------------------------------------------------------------------------------
217,676,884 (99.52%)  c-core/src/server/conn.c:conn_on_events [/bin/molt-c]
217,676,884 (99.52%)  /work/main/c-core/src/server/conn.c:conn_on_events [/bin/molt-c]
 76,300,000 (34.88%)  c-core/src/storage/classic.c:molt_storage_get [/bin/molt-c]
 76,300,000 (34.88%)  /work/main/c-core/src/storage/classic.c:molt_storage_get [/bin/molt-c]
 13,600,003 ( 6.22%)  c-core/src/protocol/classic.c:write_value [/bin/molt-c]
 13,600,000 ( 6.22%)  /work/main/c-core/src/protocol/classic.c:write_value
  1,000,000 ( 0.46%)  c-core/src/storage/slab/items.h:molt_storage_get [/bin/molt-c]
"""


class Annotate(unittest.TestCase):
    def test_a_row_listed_under_two_path_spellings_counts_once(self):
        rows = cg.parse_annotate(ANNOTATE)
        self.assertEqual(len(rows), 4)  # 7 rows, 3 of them a second spelling
        fns = cg.by_function(rows)
        self.assertEqual(fns["conn_on_events"], 217_676_884)
        # inlined code in another file still adds to its function
        self.assertEqual(fns["molt_storage_get"], 77_300_000)
        # the two spellings may differ by a few Ir: the larger stands
        self.assertEqual(fns["write_value"], 13_600_003)
        self.assertNotIn("PROGRAM TOTALS", " ".join(name for _, name in rows))


if __name__ == "__main__":
    unittest.main()

"""damon.Pause on a made-up sysfs tree: off inside, back on after, left
alone when not wanted; seconds, no kernel interface touched."""

from __future__ import annotations

import os
import tempfile
import unittest

import damon


def make_tree(root: str, states: list[str]) -> list[str]:
    files = []
    for i, state in enumerate(states):
        os.makedirs(os.path.join(root, str(i)))
        path = os.path.join(root, str(i), "state")
        with open(path, "w") as f:
            f.write(state + "\n")
        files.append(path)
    return files


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


class PauseTest(unittest.TestCase):
    def test_running_monitors_are_off_inside_and_on_after(self):
        with tempfile.TemporaryDirectory() as root:
            on, off = make_tree(root, ["on", "off"])
            with damon.Pause(root, wanted=True) as p:
                self.assertEqual(read(on), "off")
                self.assertIn("1 paused", p.note)
            self.assertEqual(read(on), "on")
            self.assertEqual(read(off), "off")  # was off: not started

    def test_resumed_after_an_exception(self):
        with tempfile.TemporaryDirectory() as root:
            (on,) = make_tree(root, ["on"])
            with self.assertRaises(RuntimeError):
                with damon.Pause(root, wanted=True):
                    raise RuntimeError("a failed run")
            self.assertEqual(read(on), "on")

    def test_left_alone_when_not_wanted(self):
        with tempfile.TemporaryDirectory() as root:
            (on,) = make_tree(root, ["on"])
            with damon.Pause(root, wanted=False) as p:
                self.assertEqual(read(on), "on")
                self.assertIn("left on", p.note)

    def test_no_monitors(self):
        with tempfile.TemporaryDirectory() as root:
            with damon.Pause(os.path.join(root, "absent"), wanted=True) as p:
                self.assertEqual(p.note, "none running")


if __name__ == "__main__":
    unittest.main()

"""The docs runner's own rules: how output is matched, how commands are
read from a block, how an answer's shape is compared. checks/docs/run
runs them before the examples."""

import importlib.machinery
import importlib.util
import unittest
from pathlib import Path

_loader = importlib.machinery.SourceFileLoader("docs_run", str(Path(__file__).with_name("run")))
_spec = importlib.util.spec_from_loader("docs_run", _loader)
run = importlib.util.module_from_spec(_spec)
_loader.exec_module(run)


class Matching(unittest.TestCase):
    def test_numbers_ages_and_columns_vary(self):
        self.assertTrue(
            run.matches(
                ["ollama         ollama      UP     2m ago  1 models", "7 targets, 1 DOWN"],
                ["ollama            ollama      UP     0s ago  3 models", "9 targets, 2 DOWN", ""],
            )
        )

    def test_words_do_not_vary(self):
        self.assertFalse(run.matches(["7 targets, none down"], ["7 targets, 1 DOWN"]))
        self.assertFalse(run.matches(["a"], ["a", "b"]))
        self.assertFalse(run.matches(["a", "b"], ["a"]))

    def test_hashes_vary_but_keep_their_length(self):
        self.assertTrue(run.matches(["hash 99f45f0a1b2c3d4e"], ["hash 0123456789abcdef"]))
        self.assertFalse(run.matches(["hash 99f45f0a1b2c3d4e"], ["hash 0123456789abcde"]))
        self.assertFalse(run.matches(["hash 99f45f0a1b2c3d4e"], ["hash none"]))

    def test_placeholders(self):
        self.assertTrue(run.matches(["hash [..]"], ["hash 99f45f0a"]))
        self.assertTrue(run.matches(["first", "...", "last"], ["first", "x", "y", "last"]))
        self.assertTrue(run.matches(["first", "...", "last"], ["first", "last"]))
        self.assertFalse(run.matches(["first", "...", "last"], ["first", "x"]))


class Reading(unittest.TestCase):
    def test_transcript_continues_lines_and_open_quotes(self):
        steps = run.transcript(
            "$ curl -s URL \\\n    -d '{\"a\":\n  1}'\n{\"ok\": true}\n$ true\n"
        )
        self.assertEqual(len(steps), 2)
        self.assertEqual(steps[0][0], "curl -s URL \\\n    -d '{\"a\":\n  1}'")
        self.assertEqual(steps[0][1], ['{"ok": true}'])

    def test_commands_skip_comments(self):
        self.assertEqual(
            run.commands("# a comment\nhwc-ai mcp   # servers\n\nls \\\n  /\n"),
            ["hwc-ai mcp   # servers", "ls \\\n  /"],
        )

    def test_markers(self):
        block = run.Block("x.md", 1, "json", "{}", "check-config", "mcp save=g.json {\"a\": 1, <example>}")
        self.assertEqual(run.check_config_args(block.arg), ("mcp", "g.json", '{"a": 1, <example>}'))
        self.assertEqual(run.document(block), '{"a": 1, {}}')


class Shapes(unittest.TestCase):
    def test_fields_shown_must_be_answered(self):
        self.assertIsNone(run.same_shape({"a": [{"b": 1}], "c": None}, {"a": [{"b": 2, "d": 3}], "c": "x"}))
        self.assertIn("/a/0/e", run.same_shape({"a": [{"e": 1}]}, {"a": [{"b": 2}]}))
        self.assertIn("/a", run.same_shape({"a": 1}, {"a": "1"}))
        self.assertIn("empty", run.same_shape({"a": [1]}, {"a": []}))


if __name__ == "__main__":
    unittest.main()

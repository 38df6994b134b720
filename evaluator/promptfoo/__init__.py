"""promptfoo for the optimiser's prompts: `resumeopt eval export-promptfoo` writes a config (export.py) whose
asserts are our judges (judging.py); package.json and its lock pin the promptfoo that runs it
(deploy/setup_promptfoo.sh installs it once per lock outside the clone and links it as .cache/promptfoo)."""

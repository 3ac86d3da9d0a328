#!/usr/bin/env node
// Runs one task package: `valence-task TASK_DIR`. Remote executors upload dist/valence-task.mjs itself.
import "../dist/valence-task.mjs";

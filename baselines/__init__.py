"""Reference agents (MAML, RL², PEARL, multi-task), installed as ``tasksuite.baselines``."""

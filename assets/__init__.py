"""MJCF models and meshes of the MuJoCo families, installed as ``tasksuite.assets``."""

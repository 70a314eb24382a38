"""cloudviper infrastructure library: typed config, stack assembly, offline plan."""

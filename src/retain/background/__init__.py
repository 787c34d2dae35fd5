"""Background memory work: the debounce schedule, the local and remote runners behind
:class:`retain.ReflectionExecutor`, and the notebook-style :class:`MemoryScheduler`."""

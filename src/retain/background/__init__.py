"""Background memory work: the debounce schedule, the runners behind
:class:`retain.ReflectionExecutor` (in-memory, durable and remote, one protocol in
:mod:`retain.background.runner`; none of them imports the executor), and the notebook-style
:class:`MemoryScheduler`."""

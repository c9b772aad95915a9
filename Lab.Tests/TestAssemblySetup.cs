// Every fixture may run beside the others: a fixture's own tests still run one after another, and
// the few fixtures that touch process-wide state (Console.Error, the meters) say [NonParallelizable].
// Tests pick free ports (port 0, or FreePorts), folders and namespaces of their own, so they never meet.
[assembly: Parallelizable(ParallelScope.Fixtures)]

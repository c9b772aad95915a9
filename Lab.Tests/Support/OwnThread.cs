namespace Lab.Tests.Support;

/// <summary>
/// Work a test runs on a thread of its own (<see cref="TaskCreationOptions.LongRunning"/>) instead of
/// the thread pool's. For loops that spin or wait for each other (a <see cref="Barrier"/>, a
/// <see cref="CountdownEvent"/>): on a 2-core machine the pool starts with two threads, and such loops
/// would hold them while every other test's timers and continuations wait for the pool to grow.
/// </summary>
internal static class OwnThread
{
    public static Task Run(Action action) =>
        Task.Factory.StartNew(action, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}

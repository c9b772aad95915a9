namespace Lab.Testing;

/// <summary>
/// Lets a test wait for a condition on a test double's state without polling or sleeping: the
/// double calls <see cref="Notify"/> whenever its state changes, and <see cref="WaitUntilAsync"/>
/// re-checks the condition on each change.
/// </summary>
public sealed class ChangeSignal
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Notify() =>
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <exception cref="TimeoutException">The condition did not become true within <see cref="TestTimeouts.Unexpected"/>.</exception>
    public async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (true)
        {
            // Take the task before checking: a change between the check and the wait completes it.
            Task changed = Volatile.Read(ref _changed).Task;
            if (condition())
            {
                return;
            }

            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"timed out after {TestTimeouts.Unexpected.TotalSeconds} s waiting for {what}");
            }
        }
    }
}

namespace Lab.Testing;

/// <summary>
/// A check failed, or a wait on a process (a line, an exit) did not end as expected: a scenario ends
/// with FAIL and this message as the reason; a test fails with it.
/// </summary>
public sealed class ScenarioFailedException(string message) : Exception(message);

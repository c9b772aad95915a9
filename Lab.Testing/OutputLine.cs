namespace Lab.Testing;

/// <summary>One line a child process printed, with when it arrived and on which stream (standard error when <see cref="IsError"/>).</summary>
public sealed record OutputLine(DateTimeOffset Time, bool IsError, string Text);

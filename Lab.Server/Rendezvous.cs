namespace Lab.Server;

/// <summary>A meeting point: <see cref="MeetAsync"/> returns only once <c>parties</c> callers of the same group
/// are inside it at the same time. It is the deterministic proof that a server runs calls in parallel
/// (lab requirements §1: client B must not wait for client A): if calls were served one after another, the first
/// caller would wait for company that never comes, and its method timeout would fire.</summary>
/// <remarks>Concurrency: any number of callers at once; <see cref="_gate"/> guards <see cref="_groups"/>.
/// A group is removed when it is complete, so the same name can meet again.</remarks>
public sealed class Rendezvous
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Meeting> _groups = new(StringComparer.Ordinal);

    /// <summary>Waits until <paramref name="parties"/> callers of <paramref name="group"/> are here; returns how many met.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parties"/> is below 1, or disagrees with the callers already waiting.</exception>
    /// <exception cref="OperationCanceledException">The token fired first (e.g. the method timeout); this caller leaves the group.</exception>
    public async Task<int> MeetAsync(string group, int parties, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfLessThan(parties, 1);
        Meeting meeting;
        lock (_gate)
        {
            meeting = _groups.TryGetValue(group, out Meeting? open) ? open : _groups[group] = new Meeting(parties);
            if (meeting.Parties != parties)
                throw new ArgumentOutOfRangeException(nameof(parties), $"group '{group}' is waiting for {meeting.Parties} parties, not {parties}");
            if (++meeting.Present == parties)
            {
                _groups.Remove(group);
                meeting.Complete.TrySetResult(parties);
            }
        }

        try
        {
            return await meeting.Complete.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                // A caller that gave up no longer counts, or a later caller would complete a group
                // whose members are not all inside at once.
                if (!meeting.Complete.Task.IsCompleted && --meeting.Present == 0)
                    _groups.Remove(group);
            }

            throw;
        }
    }

    // Present is guarded by Rendezvous._gate.
    private sealed class Meeting(int parties)
    {
        public int Parties { get; } = parties;

        public int Present { get; set; }

        public TaskCompletionSource<int> Complete { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

using Lab.Server;

namespace Lab.Tests.Server;

public class RendezvousTests
{
    [Test]
    public async Task Callers_return_only_when_all_parties_are_inside()
    {
        var rendezvous = new Rendezvous();

        Task<int> first = rendezvous.MeetAsync("g", 3);
        Task<int> second = rendezvous.MeetAsync("g", 3);
        bool completedEarly = first.IsCompleted || second.IsCompleted;
        Task<int> third = rendezvous.MeetAsync("g", 3);
        int[] met = await Task.WhenAll(first, second, third).WaitAsync(TestTimeouts.Unexpected);

        completedEarly.ShouldBeFalse();
        met.ShouldBe([3, 3, 3]);
    }

    [Test]
    public async Task A_caller_that_gives_up_leaves_the_group()
    {
        var rendezvous = new Rendezvous();
        using var giveUp = new CancellationTokenSource();

        Task<int> quitter = rendezvous.MeetAsync("g", 2, giveUp.Token);
        await giveUp.CancelAsync();
        await Should.ThrowAsync<OperationCanceledException>(quitter);
        Task<int> second = rendezvous.MeetAsync("g", 2);
        bool completedWithQuitter = second.IsCompleted;
        Task<int> third = rendezvous.MeetAsync("g", 2);
        await Task.WhenAll(second, third).WaitAsync(TestTimeouts.Unexpected);

        completedWithQuitter.ShouldBeFalse();
    }

    [Test]
    public async Task A_completed_group_name_can_meet_again()
    {
        var rendezvous = new Rendezvous();

        await Task.WhenAll(rendezvous.MeetAsync("g", 1)).WaitAsync(TestTimeouts.Unexpected);
        int again = await rendezvous.MeetAsync("g", 1).WaitAsync(TestTimeouts.Unexpected);

        again.ShouldBe(1);
    }

    [Test]
    public async Task Disagreeing_party_counts_are_refused()
    {
        var rendezvous = new Rendezvous();
        using var cleanup = new CancellationTokenSource();
        Task<int> waiting = rendezvous.MeetAsync("g", 2, cleanup.Token);

        await Should.ThrowAsync<ArgumentOutOfRangeException>(() => rendezvous.MeetAsync("g", 3));

        await cleanup.CancelAsync();
        await Should.ThrowAsync<OperationCanceledException>(waiting);
    }
}

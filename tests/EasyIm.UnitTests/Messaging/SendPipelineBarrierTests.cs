using EasyIm.Messaging.Data;
using EasyIm.Messaging.Sending;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>The send pipeline's barrier, which a chat partition's hand-over waits on before another process takes the partition.</summary>
public sealed class SendPipelineBarrierTests
{
    /// <summary>Every commit waits, once the first has started (<c>Holding</c>), until <c>Commit</c> is set.</summary>
    private static (TaskCompletionSource Holding, TaskCompletionSource Commit) HoldCommits(SendPipeline pipeline)
    {
        var commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pipeline.BeforeCommit = async _ =>
        {
            holding.TrySetResult();
            await commit.Task;
        };
        return (holding, commit);
    }

    [Fact]
    public async Task The_barrier_passes_only_once_every_batch_queued_before_it_is_stored()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        var pipeline = host.Services.GetRequiredService<SendPipeline>();
        var (holding, commit) = HoldCommits(pipeline);
        var sender = MessagingHost.NewUserId();
        await host.SubmitAsync(MessagingHost.Chat(sender, MessagingHost.NewUserId(), "b-1"));
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(20));

        var barrier = pipeline.BarrierAsync(CancellationToken.None);
        await Task.WhenAny(barrier, Task.Delay(300));
        Assert.False(barrier.IsCompleted, "the barrier passed while the batch before it was still uncommitted");

        commit.SetResult();
        await barrier.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, await host.DbAsync(db => db.Messages.CountAsync(m => m.SenderId == sender && m.ClientMsgId == "b-1")));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_connection_the_chain_forgot_is_checked_after_the_group_still_committing_its_previous_message()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        var pipeline = host.Services.GetRequiredService<SendPipeline>();
        var (holding, commit) = HoldCommits(pipeline);
        var sender = MessagingHost.NewUserId();
        var to = MessagingHost.NewUserId();
        await host.SubmitAsync(MessagingHost.Chat(sender, to, "k-1"));
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // The chain no longer knows the connection (as after presence dropped its gateway) while k-1 commits:
        // k-2 names k-1 as its previous message, which the chain must look up in the database.
        host.Services.GetRequiredService<SubmissionChain>().Forget($"c{sender}");
        await host.SubmitAsync(MessagingHost.Chat(sender, to, "k-2") with { PreviousClientMsgId = "k-1" });
        // Looked up at once, k-1 is not there yet and k-2 is refused FAIL right away; give that a moment to show.
        try
        {
            await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.Message is { ClientMsgId: "k-2", Status: MessageStatus.Fail }), TimeSpan.FromMilliseconds(500));
        }
        catch (Xunit.Sdk.FailException)
        {
            // Nothing refused while k-1 was held: the look-up is waiting for it, as it should.
        }
        commit.SetResult();

        var answers = await host.AnswersAsync(sender, "k-1", "k-2");
        Assert.All(answers, a => Assert.Equal(MessageStatus.Sent, a.Status));
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Push.Message.Status == MessageStatus.Fail);
        Assert.Equal(2, await host.DbAsync(db => db.Messages.CountAsync(m => m.SenderId == sender)));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task The_barrier_on_an_idle_pipeline_passes_and_can_be_cancelled_while_waiting()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        var pipeline = host.Services.GetRequiredService<SendPipeline>();
        await pipeline.BarrierAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        var (holding, commit) = HoldCommits(pipeline);
        await host.SubmitAsync(MessagingHost.Chat(MessagingHost.NewUserId(), MessagingHost.NewUserId(), "c-1"));
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(20));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pipeline.BarrierAsync(cancel.Token));
        commit.SetResult();
    }
}

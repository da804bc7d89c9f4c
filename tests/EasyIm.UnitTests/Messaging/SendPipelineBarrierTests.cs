using EasyIm.Messaging.Sending;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>The send pipeline's barrier, which a chat partition's hand-over waits on before another process takes the partition.</summary>
public sealed class SendPipelineBarrierTests
{
    [Fact]
    public async Task The_barrier_passes_only_once_every_batch_queued_before_it_is_stored()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        var pipeline = host.Services.GetRequiredService<SendPipeline>();
        var commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pipeline.BeforeCommit = async _ =>
        {
            holding.TrySetResult();
            await commit.Task;
        };
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
    public async Task The_barrier_on_an_idle_pipeline_passes_and_can_be_cancelled_while_waiting()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        var pipeline = host.Services.GetRequiredService<SendPipeline>();
        await pipeline.BarrierAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));

        var commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pipeline.BeforeCommit = async _ =>
        {
            holding.TrySetResult();
            await commit.Task;
        };
        await host.SubmitAsync(MessagingHost.Chat(MessagingHost.NewUserId(), MessagingHost.NewUserId(), "c-1"));
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(20));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pipeline.BarrierAsync(cancel.Token));
        commit.SetResult();
    }
}

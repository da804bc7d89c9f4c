using System.Diagnostics.Metrics;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Sending;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>The send path's metrics: stored messages and failed transactions are counted.</summary>
public sealed class SendTelemetryTests
{
    [Fact]
    public async Task A_failed_commit_counts_as_a_database_error_and_the_retried_messages_as_stored()
    {
        // The instruments are process-wide and other tests run beside this one: they can only add.
        long errors = 0, stored = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // By name: the instruments are published while EasyImTelemetry's fields are still being set.
            if (instrument.Meter.Name == EasyImTelemetry.Name && instrument.Name is "easyim.database.errors" or "easyim.messages.stored")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "easyim.database.errors")
                Interlocked.Add(ref errors, value);
            else
                Interlocked.Add(ref stored, value);
        });
        listener.Start();
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        var failed = 0;
        host.Services.GetRequiredService<SendPipeline>().BeforeCommit = _ =>
            Interlocked.Increment(ref failed) == 1 ? throw new SqliteException("injected failure before commit", 5) : Task.CompletedTask;
        var (alice, bob) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());

        await host.SubmitFromAsync(MessagingHost.G1,
            MessagingHost.Chat(alice, bob, "t-1", "one"), MessagingHost.Chat(alice, bob, "t-2", "two"), MessagingHost.Chat(alice, bob, "t-3", "three"));
        await host.Pushes.WaitForAsync(all => all.Count(p => p.Push.Message.Status == MessageStatus.Sent
            && p.Push.Message.ClientMsgId is "t-1" or "t-2" or "t-3" && p.Push.UserId == alice && p.Push.OnlyConnectionId is not null) >= 3, TimeSpan.FromSeconds(30));

        Assert.True(Interlocked.Read(ref errors) >= 1, $"the failed commit was not counted (failed {failed}, stored {stored})");
        Assert.True(Interlocked.Read(ref stored) >= 3, $"stored counted {stored}");
        host.AssertNoFaults();
    }
}

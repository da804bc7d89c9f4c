using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.Messaging;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.IntegrationTests.Messaging;

/// <summary>
/// Sequence numbers on a real PostgreSQL, where transactions do not serialize by themselves: two
/// messaging replicas (each with its own in-memory bus and several concurrent consumers) store batches
/// into the same conversations at once, batches naming the conversations in opposite orders.
/// </summary>
public sealed class PostgresSequenceTests : IAsyncLifetime
{
    private readonly string _database = "easyim_seq_" + Guid.NewGuid().ToString("N")[..12];
    private string? _admin;
    private string? _connectionString;
    private string? _unavailable;

    public async Task InitializeAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null)
        {
            _unavailable = missing;
            if (TestInfrastructure.Required)
                throw new InvalidOperationException(missing);
            return;
        }
        _admin = found.PostgresAdmin;
        _connectionString = await TestInfrastructure.CreateDatabaseAsync(_admin, _database);
    }

    public async Task DisposeAsync()
    {
        if (_admin is not null)
            await TestInfrastructure.DropDatabaseAsync(_admin, _database);
    }

    private sealed class Replica(IHost host, TaskCompletionSource allAcked) : IAsyncDisposable
    {
        public IHost Host { get; } = host;
        public Task AllAcked { get; } = allAcked.Task;

        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync();
            Host.Dispose();
        }
    }

    /// <summary>A messaging replica on the shared database; completes <see cref="Replica.AllAcked"/> after <paramref name="expectedAcks"/> SENT acks.</summary>
    private async Task<Replica> StartReplicaAsync(int expectedAcks)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:messaging"] = _connectionString,
            ["Messaging:RequireFriendship"] = "false",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddMessaging();

        var acked = 0;
        var allAcked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        builder.Services.AddMassTransitTestHarness(bus =>
        {
            MessagingModule.AddMessagingConsumers(bus);
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.ReceiveEndpoint("gateway-g1", e => e.Handler<PushToUsers>(c =>
                {
                    var acks = c.Message.Pushes.Count(p => p.AckConnectionId is not null && p.Message.Status == MessageStatus.Sent);
                    if (Interlocked.Add(ref acked, acks) >= expectedAcks)
                        allAcked.TrySetResult();
                    if (c.Message.Pushes.Any(p => p.OnlyConnectionId is not null && p.Message.Status == MessageStatus.Fail))
                        allAcked.TrySetException(new InvalidOperationException("a message was refused: " + c.Message.Pushes.First(p => p.Message.Error is not null).Message.Error));
                    return Task.CompletedTask;
                }));
                MessagingModule.ConfigureMessagingEndpoints(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        var host = builder.Build();
        await host.StartAsync();
        return new Replica(host, allAcked);
    }

    [SkippableFact]
    public async Task Concurrent_batches_from_two_replicas_number_each_conversation_1_to_n_without_gap_or_duplicate()
    {
        Skip.If(_unavailable is not null, _unavailable);
        const int batchesPerReplica = 30, perConversation = 5;
        const long a = 11, b = 12, c = 13;
        var ab = ConversationId.ForPair(a, b).ToString();
        var ac = ConversationId.ForPair(a, c).ToString();
        // Each batch: 5 messages into one conversation then 5 into the other, the order alternating by batch.
        SubmitChatMessages Batch(int replica, int n)
        {
            var first = n % 2 == 0 ? b : c;
            var second = first == b ? c : b;
            return new SubmitChatMessages("g1", Enumerable.Range(0, perConversation * 2).Select(i => new ChatSubmission(a, "ca", new WireMessage
            {
                ToUserId = i < perConversation ? first : second,
                Content = $"{replica}/{n}/{i}",
                ClientMsgId = $"{replica}-{n}-{i}",
            })).ToList());
        }

        await using var one = await StartReplicaAsync(batchesPerReplica * perConversation * 2);
        await using var two = await StartReplicaAsync(batchesPerReplica * perConversation * 2);
        // Each replica's writer stores its batches in groups, concurrently with the other's, on the same rows.
        foreach (var (replica, r) in new[] { (one, 0), (two, 1) })
        {
            var partition = await replica.Host.Services.GetRequiredService<IBus>().GetSendEndpoint(ChatPartitions.Address(ChatPartitions.Of("g1")));
            await Task.WhenAll(Enumerable.Range(0, batchesPerReplica).Select(n => partition.Send(Batch(r, n))));
        }
        await Task.WhenAll(one.AllAcked, two.AllAcked).WaitAsync(TimeSpan.FromSeconds(120));

        await using var scope = one.Host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MessagingDbContext>();
        foreach (var conversation in new[] { ab, ac })
        {
            var rows = await db.Messages.AsNoTracking().Where(m => m.ConversationId == conversation).OrderBy(m => m.ConversationSeq).ToListAsync();
            var expected = 2 * batchesPerReplica * perConversation;
            Assert.Equal(Enumerable.Range(1, expected).Select(i => (long)i), rows.Select(m => m.ConversationSeq));
            Assert.Equal(expected, rows.Select(m => m.Id).Distinct().Count());
            Assert.Equal(expected, (await db.Conversations.SingleAsync(x => x.Id == conversation)).LastSeq);
            // Each batch's part of a conversation is one contiguous range, in the batch's order.
            foreach (var batch in rows.GroupBy(m => m.Content[..m.Content.LastIndexOf('/')]))
            {
                var seqs = batch.OrderBy(m => int.Parse(m.Content[(m.Content.LastIndexOf('/') + 1)..])).Select(m => m.ConversationSeq).ToList();
                Assert.Equal(Enumerable.Range(0, perConversation).Select(i => seqs[0] + i), seqs);
            }
        }
        // Two replicas leased two snowflake node ids: no id is shared across the whole table.
        Assert.Equal(await db.Messages.CountAsync(), await db.Messages.Select(m => m.Id).Distinct().CountAsync());
    }
}

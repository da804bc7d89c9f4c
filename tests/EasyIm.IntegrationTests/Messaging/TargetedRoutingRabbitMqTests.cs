using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting.Presence;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.Messaging;
using EasyIm.Messaging.Consumers;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace EasyIm.IntegrationTests.Messaging;

/// <summary>
/// Targeted routing on a real RabbitMQ: the messaging service sends each push to the endpoint of the
/// gateway its user is on, whether that gateway declared its endpoint durable or temporary (a send that
/// declares its destination differently from the endpoint never completes on RabbitMQ), and no other
/// gateway gets it.
/// </summary>
public sealed class TargetedRoutingRabbitMqTests : IAsyncLifetime
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "easyim-route-" + Guid.NewGuid().ToString("N"));
    private string? _rabbit;
    private string? _unavailable;

    private string Durable => $"it-{_run}-d";
    private string Temporary => $"it-{_run}-t";
    private string SubmitQueue => $"it-{_run}-submit-chat-messages";

    public async Task InitializeAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        _rabbit = found?.RabbitMq;
        _unavailable = missing;
        if (found is null && TestInfrastructure.Required)
            throw new InvalidOperationException(missing);
    }

    public async Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dataDirectory))
            Directory.Delete(_dataDirectory, recursive: true);
        if (_rabbit is null)
            return;
        // Durable endpoints outlive their bus; remove them with what the sends declared.
        var factory = new ConnectionFactory { Uri = new Uri(_rabbit) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var durable in new[] { $"gateway-{Durable}", SubmitQueue })
        {
            await channel.QueueDeleteAsync(durable);
            await channel.ExchangeDeleteAsync(durable);
        }
    }

    /// <summary>A clock the test moves, so that presence is warm without waiting for it.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(TimeSpan by) => _now += by;
    }

    private sealed record Received(string Gateway, UserPush Push);

    [SkippableFact]
    public async Task Pushes_reach_only_the_users_gateway_whether_its_endpoint_is_durable_or_temporary()
    {
        Skip.If(_rabbit is null, _unavailable);
        // Users of this run only: the broker's durable queues may still hold another run's messages.
        var a = Random.Shared.NextInt64(1, long.MaxValue / 2);
        var b = a + 1;
        var received = new List<Received>();
        var both = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Record(string gateway, PushToUsers message)
        {
            lock (received)
            {
                received.AddRange(message.Pushes.Where(p => p.UserId == a || p.UserId == b).Select(p => new Received(gateway, p)));
                if (received.Any(r => r.Gateway == Durable && r.Push.AckConnectionId == "a-1") && received.Any(r => r.Gateway == Temporary && r.Push.UserId == b))
                    both.TrySetResult();
            }
        }

        // Two fake gateways on their own bus: one endpoint as MassTransit declares a named endpoint by default, one temporary.
        var gateways = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(new Uri(_rabbit));
            cfg.ReceiveEndpoint($"gateway-{Durable}", e => e.Handler<PushToUsers>(c =>
            {
                Record(Durable, c.Message);
                return Task.CompletedTask;
            }));
            cfg.ReceiveEndpoint($"gateway-{Temporary}", e =>
            {
                e.AutoDelete = true;
                e.Durable = false;
                e.Handler<PushToUsers>(c =>
                {
                    Record(Temporary, c.Message);
                    return Task.CompletedTask;
                });
            });
        });
        await gateways.StartAsync();

        var time = new ManualTime();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Bus:Transport"] = "RabbitMq",
            ["ConnectionStrings:rabbitmq"] = _rabbit,
            ["EasyIm:DataDirectory"] = _dataDirectory,
            ["Messaging:RequireFriendship"] = "false",
            // The durable form first, as configured for durable gateways; the temporary gateway is found by the fallback.
            ["Messaging:GatewayAddress"] = "queue:gateway-{0}",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddMessaging();
        builder.Services.AddSingleton(sp => new DeliveryRouter(sp.GetRequiredService<MessagingOptions>(),
            new PresenceTable(sp.GetRequiredService<PresenceOptions>(), time, sp.GetRequiredService<ILogger<PresenceTable>>()),
            time, sp.GetRequiredService<ILogger<DeliveryRouter>>()));
        // Only the consumers this test needs, the submit endpoint named for this run and bound to nothing:
        // the distributed shape's messaging may be running on the same broker, and must neither take this
        // test's batches nor have its own requests and events answered by this host.
        builder.Services.AddMassTransit(bus =>
        {
            bus.AddConsumer<SubmitChatMessagesConsumer>().Endpoint(e =>
            {
                e.Name = SubmitQueue;
                e.ConfigureConsumeTopology = false;
            });
            bus.AddConsumer<TrackPresenceConsumer>().Endpoint(e =>
            {
                e.InstanceId = _run;
                e.Temporary = true;
                e.ConcurrentMessageLimit = 1;
            });
            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(new Uri(_rabbit));
                cfg.ConfigureEndpoints(context);
            });
        });
        using var messaging = builder.Build();
        await messaging.StartAsync();
        try
        {
            var router = messaging.Services.GetRequiredService<DeliveryRouter>();
            using (var heard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                // The gateways beat (faster than real ones) until messaging's presence endpoint, bound
                // some time after its host started, has heard both.
                while (router.GatewaysOf(a).Count == 0 || router.GatewaysOf(b).Count == 0)
                {
                    await gateways.Publish(new GatewayHeartbeat(Durable, [a], DateTimeOffset.UtcNow), heard.Token);
                    await gateways.Publish(new GatewayHeartbeat(Temporary, [b], DateTimeOffset.UtcNow), heard.Token);
                    await Task.Delay(100, heard.Token);
                }
            }
            time.Advance(TimeSpan.FromSeconds(7));
            Assert.False(router.WarmingUp);

            var submit = await gateways.GetSendEndpoint(new Uri($"queue:{SubmitQueue}"));
            await submit.Send(new SubmitChatMessages(Durable, [new ChatSubmission(a, "a-1", new WireMessage { ToUserId = b, Content = "routed", ClientMsgId = "r-1" })]));
            try
            {
                await both.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                lock (received)
                    Assert.Fail("received only: " + string.Join("; ", received.Select(r => $"{r.Gateway}: user {r.Push.UserId} only {r.Push.OnlyConnectionId} status {r.Push.Message.Status} {r.Push.Message.Error}")));
            }

            lock (received)
            {
                Assert.All(received.Where(r => r.Push.UserId == a), r => Assert.Equal(Durable, r.Gateway));
                Assert.All(received.Where(r => r.Push.UserId == b), r => Assert.Equal(Temporary, r.Gateway));
                Assert.Equal("routed", received.Single(r => r.Push.UserId == b).Push.Message.Content);
            }
        }
        finally
        {
            await messaging.StopAsync();
            await gateways.StopAsync();
        }
    }
}

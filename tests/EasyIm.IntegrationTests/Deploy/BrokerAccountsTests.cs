using System.Text;
using EasyIm.IntegrationTests.Shapes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// One broker account per service (issue 16: <c>deploy/rabbitmq-accounts.sh</c>, as compose runs it) on a real RabbitMQ:
/// each service's account is refused by the broker itself (ACCESS_REFUSED, reply code 403, naming the exchange or queue)
/// when it publishes what is not its own to publish, taps what it may not read or consumes another service's queue; and
/// the same account may publish what it must. Every exchange and queue named here exists (the broker's administrator
/// makes them first), so a refusal is the permission's, not a missing exchange's.
/// </summary>
public sealed class BrokerAccountsTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _name = "easyim_acl_" + Guid.NewGuid().ToString("N")[..12];
    private BrokerAccounts? _accounts;
    private string? _missing;

    /// <summary>The exchanges the tests publish to, as MassTransit declares them (durable fanout), and the temporary gateway one.</summary>
    private static readonly string[] Exchanges =
    [
        "EasyIm.Contracts.Gateway:PushToUsers", "EasyIm.Contracts.Gateway:UserConnected", "EasyIm.Contracts.Gateway:ReportGatewayPresence",
        "EasyIm.Contracts.Auth:UserTokensRevoked", "EasyIm.Contracts.Auth:UserSessionRevoked", "EasyIm.Contracts.Auth:UserRegistered",
        "EasyIm.Contracts.Auth:LoginUser", "EasyIm.Contracts.Messaging:MessagingInstanceHeartbeat", "EasyIm.Contracts.Messaging:ApplyFriendship",
        "EasyIm.Contracts.Friends:FriendshipCreated", "EasyIm.Contracts.Friends:CheckRelationships", "messaging-chat-0", "login-user",
        ChatFaults,
    ];

    private const string GatewayEndpoint = "gateway-it-acl";

    /// <summary>A gateway process's bus endpoint, where the replies to its requests (logins' tokens among them) arrive.</summary>
    private const string GatewayBus = "gateway_bus_0123456789abcdef0123456789abcdef";

    /// <summary>A messaging process's bus endpoint: friends' answers to its relationship checks arrive there.</summary>
    private const string MessagingBus = "messaging_bus_0123456789abcdef0123456789abcdef";

    /// <summary>Where a chat partition's faults (the batch, chats and all) would be published.</summary>
    private const string ChatFaults = "MassTransit:Fault--EasyIm.Contracts.Messaging:SubmitChatMessages--";

    private static bool IsTemporary(string exchange) => exchange is GatewayEndpoint or GatewayBus or MessagingBus;

    public async Task InitializeAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null || Environment.GetEnvironmentVariable(TestInfrastructure.RabbitMqVariable) is not { Length: > 0 })
        {
            _missing = missing ?? $"needs RabbitMQ's management API to make the accounts: set {TestInfrastructure.RabbitMqVariable} (and EASYIM_TEST_RABBITMQ_API)";
            return;
        }
        _accounts = await TestInfrastructure.CreateBrokerAccountsAsync(found.RabbitMq, _name);
        using var timeout = new CancellationTokenSource(Wait);
        var admin = new ConnectionFactory { Uri = new UriBuilder(found.RabbitMq) { Path = "/" + _name }.Uri };
        await using var connection = await admin.CreateConnectionAsync(timeout.Token);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
        foreach (var exchange in Exchanges)
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: timeout.Token);
        foreach (var temporary in new[] { GatewayEndpoint, GatewayBus, MessagingBus })
            await channel.ExchangeDeclareAsync(temporary, ExchangeType.Fanout, durable: false, autoDelete: true, cancellationToken: timeout.Token);
        // Queues of services, as their endpoints declare them, for the consume refusals.
        foreach (var queue in new[] { "login-user", "messaging-chat-0" })
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: timeout.Token);
            await channel.QueueBindAsync(queue, queue, "", cancellationToken: timeout.Token);
        }
    }

    public async Task DisposeAsync()
    {
        if (_accounts is not null)
            await _accounts.DeleteAsync();
    }

    private void RequireBroker()
    {
        if (TestInfrastructure.Required)
            Assert.True(_accounts is not null, _missing);
        Skip.If(_accounts is null, _missing);
    }

    private async Task<IConnection> ConnectAsAsync(string service, CancellationToken cancellationToken) =>
        await new ConnectionFactory { Uri = new Uri(_accounts!.For(service)) }.CreateConnectionAsync(cancellationToken);

    private string User(string service) => $"{_name}_{service}";

    /// <summary>The broker's answer when the channel was closed under the caller (a refusal closes the channel).</summary>
    private static void AssertRefused(ShutdownEventArgs reason, string resource, string user)
    {
        Assert.True(reason.ReplyCode == 403, $"expected ACCESS_REFUSED (403) for {resource}, got {reason.ReplyCode} {reason.ReplyText}");
        Assert.StartsWith("ACCESS_REFUSED", reason.ReplyText, StringComparison.Ordinal);
        Assert.Contains($"'{resource}'", reason.ReplyText, StringComparison.Ordinal);
        Assert.Contains($"'{user}'", reason.ReplyText, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("gateway", "EasyIm.Contracts.Gateway:PushToUsers")]
    [InlineData("gateway", "EasyIm.Contracts.Auth:UserTokensRevoked")]
    [InlineData("gateway", "EasyIm.Contracts.Auth:UserSessionRevoked")]
    [InlineData("gateway", "EasyIm.Contracts.Messaging:MessagingInstanceHeartbeat")]
    [InlineData("gateway", "EasyIm.Contracts.Messaging:ApplyFriendship")]
    [InlineData("gateway", "EasyIm.Contracts.Friends:FriendshipCreated")]
    [InlineData("gateway", "EasyIm.Contracts.Gateway:ReportGatewayPresence")]
    [InlineData("gateway", "login-user")]
    [InlineData("messaging", "EasyIm.Contracts.Auth:UserTokensRevoked")]
    [InlineData("messaging", "EasyIm.Contracts.Auth:UserRegistered")]
    [InlineData("messaging", "EasyIm.Contracts.Gateway:UserConnected")]
    [InlineData("messaging", "EasyIm.Contracts.Friends:FriendshipCreated")]
    [InlineData("friends", "EasyIm.Contracts.Auth:UserTokensRevoked")]
    [InlineData("friends", "EasyIm.Contracts.Gateway:UserConnected")]
    [InlineData("friends", "EasyIm.Contracts.Messaging:MessagingInstanceHeartbeat")]
    [InlineData("friends", "messaging-chat-0")]
    [InlineData("auth", "EasyIm.Contracts.Gateway:PushToUsers")]
    [InlineData("auth", "EasyIm.Contracts.Friends:FriendshipCreated")]
    [InlineData("auth", "EasyIm.Contracts.Messaging:ApplyFriendship")]
    [InlineData("auth", "messaging-chat-0")]
    [InlineData("gateway", MessagingBus)]
    [InlineData("auth", MessagingBus)]
    public async Task A_service_account_is_refused_by_the_broker_when_it_publishes_what_is_not_its_own(string service, string exchange)
    {
        RequireBroker();
        using var timeout = new CancellationTokenSource(Wait);
        await using var connection = await ConnectAsAsync(service, timeout.Token);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), timeout.Token);
        var closed = new TaskCompletionSource<ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        channel.ChannelShutdownAsync += (_, reason) =>
        {
            closed.TrySetResult(reason);
            return Task.CompletedTask;
        };

        // With confirms: a publish the broker takes is acknowledged, one it refuses closes the channel under the wait.
        var failed = await Record.ExceptionAsync(() => channel.BasicPublishAsync(exchange, "", mandatory: false, new BasicProperties(),
            Encoding.UTF8.GetBytes("{\"forged\":true}"), timeout.Token).AsTask());

        Assert.True(failed is not null, $"the broker confirmed {service}'s publish to {exchange}");
        AssertRefused(await closed.Task.WaitAsync(timeout.Token), exchange, User(service));
    }

    [SkippableTheory]
    [InlineData("gateway", "EasyIm.Contracts.Gateway:UserConnected")]
    [InlineData("gateway", "EasyIm.Contracts.Auth:LoginUser")]
    [InlineData("gateway", "messaging-chat-0")]
    [InlineData("messaging", "EasyIm.Contracts.Gateway:PushToUsers")]
    [InlineData("messaging", GatewayEndpoint)]
    [InlineData("messaging", GatewayBus)]
    [InlineData("friends", "EasyIm.Contracts.Gateway:PushToUsers")]
    [InlineData("friends", "EasyIm.Contracts.Friends:FriendshipCreated")]
    [InlineData("friends", "EasyIm.Contracts.Messaging:ApplyFriendship")]
    [InlineData("auth", "EasyIm.Contracts.Auth:UserTokensRevoked")]
    [InlineData("auth", "EasyIm.Contracts.Auth:UserRegistered")]
    [InlineData("auth", GatewayBus)]
    [InlineData("friends", MessagingBus)]
    public async Task A_service_account_may_declare_and_publish_what_it_must(string service, string exchange)
    {
        RequireBroker();
        using var timeout = new CancellationTokenSource(Wait);
        await using var connection = await ConnectAsAsync(service, timeout.Token);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), timeout.Token);

        // As MassTransit does before its first publish or send: declare the exchange (the same way it exists), then publish.
        var temporary = IsTemporary(exchange);
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: !temporary, autoDelete: temporary, cancellationToken: timeout.Token);
        await channel.BasicPublishAsync(exchange, "", mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("{}"), timeout.Token);

        Assert.True(channel.IsOpen, $"{service}'s channel closed: {channel.CloseReason}");
    }

    [SkippableFact]
    public async Task A_gateway_may_not_tap_the_logins_other_gateways_publish_nor_consume_a_service_s_queue()
    {
        RequireBroker();
        using var timeout = new CancellationTokenSource(Wait);
        await using var connection = await ConnectAsAsync("gateway", timeout.Token);

        // A queue of a gateway's own, bound to the exchange every gateway publishes LoginUser (with its password) to.
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token))
        {
            var tap = GatewayEndpoint + "-tap";
            await channel.QueueDeclareAsync(tap, durable: false, exclusive: true, autoDelete: true, cancellationToken: timeout.Token);
            var bind = await Assert.ThrowsAsync<OperationInterruptedException>(() => channel.QueueBindAsync(tap, "EasyIm.Contracts.Auth:LoginUser", "", cancellationToken: timeout.Token));
            AssertRefused(bind.ShutdownReason!, "EasyIm.Contracts.Auth:LoginUser", User("gateway"));
        }
        // Auth's queue of logins, and the chat partition the gateway may send to but not read.
        foreach (var queue in new[] { "login-user", "messaging-chat-0" })
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
            var consume = await Assert.ThrowsAsync<OperationInterruptedException>(() => channel.BasicGetAsync(queue, autoAck: false, timeout.Token));
            AssertRefused(consume.ShutdownReason!, queue, User("gateway"));
        }
    }

    [SkippableTheory]
    [InlineData("messaging", GatewayBus)]
    [InlineData("friends", GatewayBus)]
    [InlineData("gateway", ChatFaults)]
    [InlineData("friends", ChatFaults)]
    public async Task A_service_account_may_not_bind_a_queue_of_its_own_to_another_s_replies_or_faults(string service, string exchange)
    {
        RequireBroker();
        using var timeout = new CancellationTokenSource(Wait);
        await using var connection = await ConnectAsAsync(service, timeout.Token);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
        // A queue the account may make: its own bus endpoint's name.
        var tap = $"{service}_bus_{Guid.NewGuid():N}";
        await channel.QueueDeclareAsync(tap, durable: false, exclusive: true, autoDelete: true, cancellationToken: timeout.Token);

        var bind = await Assert.ThrowsAsync<OperationInterruptedException>(() => channel.QueueBindAsync(tap, exchange, "", cancellationToken: timeout.Token));

        AssertRefused(bind.ShutdownReason!, exchange, User(service));
    }

    [SkippableFact]
    public async Task Messaging_may_not_consume_auth_s_queue_nor_declare_auth_s_event()
    {
        RequireBroker();
        using var timeout = new CancellationTokenSource(Wait);
        await using var connection = await ConnectAsAsync("messaging", timeout.Token);

        await using (var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token))
        {
            var consume = await Assert.ThrowsAsync<OperationInterruptedException>(() => channel.BasicGetAsync("login-user", autoAck: false, timeout.Token));
            AssertRefused(consume.ShutdownReason!, "login-user", User("messaging"));
        }
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token))
        {
            var declare = await Assert.ThrowsAsync<OperationInterruptedException>(() => channel.ExchangeDeclareAsync(
                "EasyIm.Contracts.Auth:UserTokensRevoked", ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: timeout.Token));
            AssertRefused(declare.ShutdownReason!, "EasyIm.Contracts.Auth:UserTokensRevoked", User("messaging"));
        }
    }
}

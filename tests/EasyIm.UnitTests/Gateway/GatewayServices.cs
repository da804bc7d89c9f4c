using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Consumers;
using EasyIm.Gateway.Delivery;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// The gateway's connection services on MassTransit's test harness, with auth played by a fake
/// that accepts <see cref="GoodToken"/> for <see cref="UserId"/>: enough to run real connections.
/// </summary>
internal sealed class GatewayServices : IAsyncDisposable
{
    public const long UserId = 1001;
    public const string GoodToken = "good-token";
    /// <summary>Accepted like <see cref="GoodToken"/>, once <see cref="AuthAnswers"/> lets auth answer.</summary>
    public const string SlowToken = "slow-token";

    private readonly ServiceProvider _services;

    private GatewayServices(ServiceProvider services) => _services = services;

    /// <summary>Auth answers a <see cref="SlowToken"/> handshake once this completes.</summary>
    public TaskCompletionSource AuthAnswers => _services.GetRequiredService<SlowAuth>().Answer;

    /// <summary>Completes when auth has been asked about a <see cref="SlowToken"/>.</summary>
    public Task AuthAsked => _services.GetRequiredService<SlowAuth>().Asked.Task;

    /// <param name="more">More services played on the bus (messaging's side of a sync, say), with what they need.</param>
    public static async Task<GatewayServices> StartAsync(GatewayOptions options, TimeProvider? time = null, Action<IServiceCollection, IBusRegistrationConfigurator>? more = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(options);
        services.AddSingleton(new GatewayIdentity("unit"));
        services.AddSingleton(time ?? TimeProvider.System);
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<MessagingOutbound>();
        services.AddSingleton<FrameHandler>();
        services.AddSingleton<SlowAuth>();
        services.AddMassTransitTestHarness(bus =>
        {
            bus.AddConsumer<FakeAuth>();
            bus.AddConsumer<PushToUsersConsumer>();
            more?.Invoke(services, bus);
        });
        var provider = services.BuildServiceProvider(validateScopes: true);
        await provider.GetTestHarness().Start();
        return new GatewayServices(provider);
    }

    public FrameHandler Handler => _services.GetRequiredService<FrameHandler>();

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public ITestHarness Harness => _services.GetTestHarness();

    public ConnectionRegistry Registry => _services.GetRequiredService<ConnectionRegistry>();

    public static Msg Heartbeat() => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        FromUserId = UserId.ToString(),
        AccessToken = GoodToken,
        Content = "{\"key\":\"KEEP_ALIVE\"}",
    };

    public async ValueTask DisposeAsync()
    {
        // A test that failed before letting auth answer must not leave the harness waiting on its consumer.
        AuthAnswers.TrySetResult();
        await _services.GetTestHarness().Stop();
        await _services.DisposeAsync();
    }

    private sealed class SlowAuth
    {
        public TaskCompletionSource Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class FakeAuth(SlowAuth slow) : IConsumer<ValidateAccessToken>
    {
        public async Task Consume(ConsumeContext<ValidateAccessToken> context)
        {
            if (context.Message.AccessToken == SlowToken)
            {
                slow.Asked.TrySetResult();
                await slow.Answer.Task;
            }
            await (context.Message.AccessToken is GoodToken or SlowToken && context.Message.UserId == UserId
                ? context.RespondAsync(new AccessTokenValidated(UserId, "alice", 1, DateTimeOffset.UtcNow.AddHours(1)))
                : context.RespondAsync(new RequestRejected(401, "access_token is invalid")));
        }
    }
}

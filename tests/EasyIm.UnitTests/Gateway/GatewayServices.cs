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

    private readonly ServiceProvider _services;

    private GatewayServices(ServiceProvider services) => _services = services;

    public static async Task<GatewayServices> StartAsync(GatewayOptions options, TimeProvider? time = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(options);
        services.AddSingleton(new GatewayIdentity("unit"));
        services.AddSingleton(time ?? TimeProvider.System);
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<MessagingOutbound>();
        services.AddSingleton<FrameHandler>();
        services.AddMassTransitTestHarness(bus =>
        {
            bus.AddConsumer<FakeAuth>();
            bus.AddConsumer<PushToUsersConsumer>();
        });
        var provider = services.BuildServiceProvider(validateScopes: true);
        await provider.GetTestHarness().Start();
        return new GatewayServices(provider);
    }

    public FrameHandler Handler => _services.GetRequiredService<FrameHandler>();

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
        await _services.GetTestHarness().Stop();
        await _services.DisposeAsync();
    }

    private sealed class FakeAuth : IConsumer<ValidateAccessToken>
    {
        public Task Consume(ConsumeContext<ValidateAccessToken> context) =>
            context.Message.AccessToken == GoodToken && context.Message.UserId == UserId
                ? context.RespondAsync(new AccessTokenValidated(UserId, "alice", 1, DateTimeOffset.UtcNow.AddHours(1)))
                : context.RespondAsync(new RequestRejected(401, "access_token is invalid"));
    }
}

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
/// Tokens the fake accepts expire <see cref="TokenLifetime"/> after auth was asked, on the gateway's clock.
/// </summary>
internal sealed class GatewayServices : IAsyncDisposable
{
    public const long UserId = 1001;
    public const long OtherUserId = 2002;
    /// <summary>The login session of <see cref="GoodToken"/>, <see cref="SlowToken"/> and <see cref="FreshToken"/>.</summary>
    public const long SessionId = 71;
    public const long OtherSessionId = 72;
    public const string GoodToken = "good-token";
    /// <summary>Accepted like <see cref="GoodToken"/>, once <see cref="AuthAnswers"/> lets auth answer.</summary>
    public const string SlowToken = "slow-token";
    /// <summary>Another live token of the same user and session, as a refresh would give.</summary>
    public const string FreshToken = "fresh-token";
    /// <summary>A live token of the same user from another login (session <see cref="OtherSessionId"/>).</summary>
    public const string OtherSessionToken = "other-session-token";
    /// <summary>A live token of <see cref="OtherUserId"/>.</summary>
    public const string OtherUserToken = "other-user-token";
    /// <summary>A token auth still accepts whose expiry has passed on the gateway's clock (auth's clock runs behind).</summary>
    public const string ExpiredToken = "expired-token";
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromHours(1);

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
        services.AddSingleton<RevokedSessions>();
        services.AddMassTransitTestHarness(bus =>
        {
            bus.AddConsumer<FakeAuth>();
            bus.AddConsumer<PushToUsersConsumer>();
            bus.AddConsumer<UserTokensRevokedConsumer>();
            bus.AddConsumer<UserSessionRevokedConsumer>();
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

    public IServiceProvider Services => _services;

    /// <summary>The sessions auth answers as revoked to <see cref="CheckSessions"/>.</summary>
    public ISet<LiveSession> Revoked => _services.GetRequiredService<RevokedSessions>().Sessions;

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

    private sealed class RevokedSessions
    {
        public HashSet<LiveSession> Sessions { get; } = [];
    }

    private sealed class FakeAuth(SlowAuth slow, RevokedSessions revoked, TimeProvider time) : IConsumer<ValidateAccessToken>, IConsumer<CheckSessions>
    {
        public async Task Consume(ConsumeContext<ValidateAccessToken> context)
        {
            if (context.Message.AccessToken == SlowToken)
            {
                slow.Asked.TrySetResult();
                await slow.Answer.Task;
            }
            var now = time.GetUtcNow();
            (long User, long Session, DateTimeOffset ExpiresAt)? token = context.Message.AccessToken switch
            {
                GoodToken or SlowToken or FreshToken => (UserId, SessionId, now + TokenLifetime),
                OtherSessionToken => (UserId, OtherSessionId, now + TokenLifetime),
                OtherUserToken => (OtherUserId, 99, now + TokenLifetime),
                ExpiredToken => (UserId, SessionId, now - TimeSpan.FromSeconds(1)),
                _ => null,
            };
            await (token is { } t && (context.Message.UserId ?? t.User) == t.User
                ? context.RespondAsync(new AccessTokenValidated(t.User, "alice", 1, t.ExpiresAt, t.Session))
                : context.RespondAsync(new RequestRejected(401, "access_token is invalid or expired, or not this user's")));
        }

        public Task Consume(ConsumeContext<CheckSessions> context)
        {
            lock (revoked.Sessions)
                return context.RespondAsync(new SessionsChecked([.. context.Message.Sessions.Where(revoked.Sessions.Contains)]));
        }
    }
}

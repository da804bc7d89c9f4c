using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Attacks on the token lifecycle, each while a bystander pair chats: a stolen refresh token replayed after its
/// owner rotated it, the same with <c>reset_secret</c>, and a live connection renewed with a token not its
/// user's. The attacker is refused (401, the session or the connection ended) and the bystanders lose nothing.
/// </summary>
public abstract class TokenAbuse(EasyImShape shape)
{
    private static readonly TimeSpan Wait = ShapeClients.Wait;

    private Task<ApiReply> RefreshAsync(string refreshToken, bool resetSecret = false, string grantType = "access_token") =>
        shape.PostAsync("/api/user/refresh_token", new { grant_type = grantType, refresh_token = refreshToken, reset_secret = resetSecret });

    /// <summary>The user with the pair a refresh answered.</summary>
    private static TestUser Rotated(TestUser user, ApiReply refreshed) => user with
    {
        AccessToken = refreshed.Data.GetProperty("access_token").GetString()!,
        RefreshToken = refreshed.Data.GetProperty("refresh_token").GetString()!,
    };

    private async Task<TestUser> SecondLoginAsync(TestUser user)
    {
        var login = await shape.PostAsync("/api/user/login", new { account = user.Account, password = user.Password });
        Assert.Equal(200, login.Status);
        return user with
        {
            AccessToken = login.Data.GetProperty("access_token").GetString()!,
            RefreshToken = login.Data.GetProperty("refresh_token").GetString()!,
        };
    }

    private static async Task<Msg> ClosedWith401Async(EasyImClient client)
    {
        var notify = await client.WaitForAsync(m => Frames.IsNotify(m), Wait);
        Assert.Equal(401, Frames.NotifyCode(notify));
        await client.Closed.WaitAsync(Wait);
        return notify;
    }

    private static async Task StillServedAsync(EasyImClient client)
    {
        await client.SendAsync(Frames.Heartbeat(client.UserId));
        await client.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Wait);
        Assert.False(client.IsClosed);
    }

    [SkippableFact]
    public async Task A_rotated_refresh_token_replayed_revokes_its_session_the_newest_tokens_and_the_live_socket_included()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var victim = await shape.NewUserAsync();
        var laptop = await SecondLoginAsync(victim);
        var rotation = await RefreshAsync(victim.RefreshToken);
        Assert.Equal(200, rotation.Status);
        var newest = Rotated(victim, rotation);
        await using var phoneSocket = await shape.ConnectAsync(newest);
        await using var laptopSocket = await shape.ConnectAsync(laptop);

        // The thief replays the refresh token it copied before the owner rotated it.
        var replay = await RefreshAsync(victim.RefreshToken);

        Assert.Equal(401, replay.Status);
        var notify = await ClosedWith401Async(phoneSocket);
        Assert.Contains("session was revoked", Frames.NotifyMessage(notify), StringComparison.Ordinal);
        Assert.Equal(401, (await RefreshAsync(newest.RefreshToken)).Status);
        Assert.Equal(401, (await shape.GetAsync("/api/user/friends", bearer: newest.AccessToken)).Status);
        Assert.Equal(401, (await shape.GetAsync($"/api/user/check_token?token={newest.RefreshToken}")).Status);
        // The user's other login is another session: untouched.
        await StillServedAsync(laptopSocket);
        Assert.Equal(200, (await shape.GetAsync("/api/user/friends", bearer: laptop.AccessToken)).Status);
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task A_stale_refresh_token_with_reset_secret_resets_nothing_and_locks_nobody_out()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var victim = await shape.NewUserAsync();
        var laptop = await SecondLoginAsync(victim);
        Assert.Equal(200, (await RefreshAsync(victim.RefreshToken)).Status);
        await using var laptopSocket = await shape.ConnectAsync(laptop);

        var reset = await RefreshAsync(victim.RefreshToken, resetSecret: true, grantType: "refresh_token");

        Assert.Equal(401, reset.Status);
        // Had the secret been reset, every earlier token would be dead and the laptop's socket closed.
        await StillServedAsync(laptopSocket);
        var laptopRotation = await RefreshAsync(laptop.RefreshToken);
        Assert.Equal(200, laptopRotation.Status);
        Assert.Equal(200, (await shape.GetAsync("/api/user/friends", bearer: Rotated(laptop, laptopRotation).AccessToken)).Status);
        Assert.Equal(200, (await shape.PostAsync("/api/user/login", new { account = victim.Account, password = victim.Password })).Status);
        await bystanders.VerifyAsync();
    }

    [SkippableTheory]
    [InlineData("another user's access token")]
    [InlineData("its own refresh token")]
    [InlineData("a forged token")]
    public async Task A_heartbeat_renewing_a_socket_with_a_token_not_a_live_access_token_of_its_user_closes_it_401(string what)
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var attacker = await shape.NewUserAsync();
        var other = await shape.NewUserAsync();
        await using var socket = await shape.ConnectAsync(attacker);
        var token = what switch
        {
            "another user's access token" => other.AccessToken,
            "its own refresh token" => attacker.RefreshToken,
            _ => attacker.AccessToken[..^4] + "AAAA",
        };

        await socket.RenewAsync(token);

        await ClosedWith401Async(socket);
        // The connection never spoke for the other user: that user is served as before.
        await using var others = await shape.ConnectAsync(other);
        await StillServedAsync(others);
        await bystanders.VerifyAsync();
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneTokenAbuse(StandaloneShape shape) : TokenAbuse(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedTokenAbuse(DistributedShape shape) : TokenAbuse(shape);

/// <summary>
/// A live connection whose access token expires is closed (NOTIFY 401) unless its client renewed it in time with
/// a heartbeat carrying a fresh token: on a server of its own whose tokens live seconds, while a bystander pair
/// (who renew their connections, as a careful client does) chats.
/// </summary>
public abstract class TokenExpiryAbuse(EasyImShape shape)
{
    private static readonly TimeSpan Wait = ShapeClients.Wait;

    [SkippableFact]
    public async Task A_socket_whose_token_expires_is_closed_401_and_one_renewed_in_time_stays()
    {
        shape.RequireAvailable();
        var tokens = new RenewingTokens(shape, refreshAfter: TimeSpan.FromSeconds(3));
        var bystanders = await Bystanders.StartAsync(shape, tokens: tokens);
        var expiring = await shape.NewUserAsync();
        var renewing = await shape.NewUserAsync();
        // Both send a heartbeat every 2 s (never silent); only one renews its token.
        await using var stale = await shape.ConnectAsync(expiring);
        await using var renewed = await EasyImClient.ConnectAsync("127.0.0.1", shape.SocketPort, ClientTransport.WebSocketJson, new EasyImClientOptions
        {
            KeepAliveEvery = TimeSpan.FromSeconds(2),
            RenewEvery = TimeSpan.FromSeconds(2),
            FreshAccessToken = ct => tokens.AccessTokenAsync(renewing, ct),
        });
        await renewed.HandshakeAsync(renewing.Id, renewing.AccessToken);

        var notify = await stale.WaitForAsync(m => Frames.IsNotify(m), ShortTokens.AccessLifetime + Wait);

        Assert.Equal(401, Frames.NotifyCode(notify));
        Assert.Contains("access token expired", Frames.NotifyMessage(notify), StringComparison.Ordinal);
        await stale.Closed.WaitAsync(Wait);
        // The renewed one outlives its first token (which expired with the other's) by another whole lifetime.
        var closedToo = await renewed.TryWaitForAsync(m => Frames.IsNotify(m), ShortTokens.AccessLifetime + TimeSpan.FromSeconds(2));
        Assert.Null(closedToo);
        Assert.False(renewed.IsClosed);
        // The expired token opens nothing any more.
        Assert.Equal(401, (await shape.GetAsync("/api/user/friends", bearer: expiring.AccessToken)).Status);
        await using var again = await EasyImClient.ConnectAsync("127.0.0.1", shape.SocketPort, ClientTransport.TcpJson);
        var refused = await Assert.ThrowsAsync<EasyImServerException>(() => again.HandshakeAsync(expiring.Id, expiring.AccessToken));
        Assert.Equal(401, refused.Code);
        await bystanders.VerifyAsync();
    }
}

[Collection(ShortTokenStandaloneCollection.Name)]
public sealed class StandaloneTokenExpiryAbuse(ShortTokenStandaloneShape shape) : TokenExpiryAbuse(shape);

[Collection(ShortTokenDistributedCollection.Name)]
public sealed class DistributedTokenExpiryAbuse(ShortTokenDistributedShape shape) : TokenExpiryAbuse(shape);

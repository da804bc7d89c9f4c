using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using EasyIm.Hosting;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Auth;

/// <summary>
/// Refresh tokens rotate on use, and a rotated one used again revokes its login session (RFC 6819 5.2.2.3):
/// the real auth consumers, a real database, a fake clock.
/// </summary>
public sealed class RefreshRotationTests : IAsyncLifetime
{
    private AuthHarness _auth = null!;

    public async Task InitializeAsync() => _auth = await AuthHarness.StartAsync();

    public async Task DisposeAsync() => await _auth.DisposeAsync();

    [Fact]
    public async Task A_refresh_returns_a_new_pair_of_the_same_session_and_the_old_refresh_token_stops_working()
    {
        var login = await _auth.RegisterAsync();

        var (refreshed, _) = await _auth.RefreshAsync(login.RefreshToken);

        Assert.NotNull(refreshed);
        Assert.NotEqual(login.RefreshToken, refreshed.RefreshToken);
        Assert.Equal(7200, refreshed.AccessExpiresIn);
        Assert.Equal(30 * 86400, refreshed.RefreshExpiresIn);
        Assert.False(await _auth.CheckWorksAsync(login.RefreshToken));
        Assert.True(await _auth.CheckWorksAsync(refreshed.RefreshToken));
        var before = await _auth.OkAsync<ValidateAccessToken, AccessTokenValidated>(new ValidateAccessToken(login.UserId, login.AccessToken));
        var after = await _auth.OkAsync<ValidateAccessToken, AccessTokenValidated>(new ValidateAccessToken(login.UserId, refreshed.AccessToken));
        Assert.NotEqual(0, before.SessionId);
        Assert.Equal(before.SessionId, after.SessionId);
        // The new refresh token rotates in turn.
        Assert.NotNull((await _auth.RefreshAsync(refreshed.RefreshToken)).Ok);
    }

    [Fact]
    public async Task Only_the_hash_of_a_refresh_token_is_stored()
    {
        var login = await _auth.RegisterAsync();

        var rows = await _auth.WithDbAsync(db => db.RefreshTokens.AsNoTracking().Where(r => r.UserId == login.UserId).ToListAsync());

        var row = Assert.Single(rows);
        Assert.Equal(SessionTokens.Hash(login.RefreshToken), row.TokenHash);
        Assert.Equal(32, row.TokenHash.Length);
    }

    [Fact]
    public async Task A_rotated_refresh_token_used_again_revokes_every_token_of_its_session_and_only_that_session()
    {
        var login = await _auth.RegisterAsync();
        var otherDevice = await _auth.OkAsync<LoginUser, UserSessionIssued>(new LoginUser(
            (await _auth.WithDbAsync(db => db.Users.SingleAsync(u => u.Id == login.UserId))).Account, "pass-word-1"));
        var (owner, _) = await _auth.RefreshAsync(login.RefreshToken);

        var (thief, refused) = await _auth.RefreshAsync(login.RefreshToken);

        Assert.Null(thief);
        Assert.Equal(401, refused!.Code);
        Assert.Contains("already used", refused.Message, StringComparison.Ordinal);
        var session = (await _auth.OkAsync<ValidateAccessToken, AccessTokenValidated>(new ValidateAccessToken(null, otherDevice.AccessToken))).SessionId;
        Assert.True(await _auth.Bus.Published.Any<UserSessionRevoked>(x => x.Context.Message.UserId == login.UserId && x.Context.Message.SessionId != session));
        // The session's newest tokens, the owner's, stopped working too: nobody can tell owner from thief.
        Assert.Equal(401, (await _auth.RefreshAsync(owner!.RefreshToken)).Rejected?.Code);
        Assert.False(await _auth.AccessWorksAsync(owner.AccessToken));
        Assert.False(await _auth.AccessWorksAsync(login.AccessToken));
        Assert.False(await _auth.CheckWorksAsync(owner.RefreshToken));
        // The user's other login is another session: it still works.
        Assert.True(await _auth.AccessWorksAsync(otherDevice.AccessToken));
        Assert.NotNull((await _auth.RefreshAsync(otherDevice.RefreshToken)).Ok);
        Assert.False(await _auth.Bus.Published.Any<Fault>());
    }

    [Fact]
    public async Task Of_refreshes_racing_with_one_token_exactly_one_gets_a_pair()
    {
        var login = await _auth.RegisterAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _auth.RefreshAsync(login.RefreshToken)));

        Assert.Single(answers, a => a.Ok is not null);
        Assert.All(answers.Where(a => a.Ok is null), a => Assert.Equal(401, a.Rejected!.Code));
    }

    [Fact]
    public async Task Reset_secret_with_a_stale_refresh_token_resets_nothing_and_the_owners_other_sessions_keep_working()
    {
        var login = await _auth.RegisterAsync();
        var account = (await _auth.WithDbAsync(db => db.Users.SingleAsync(u => u.Id == login.UserId))).Account;
        var laptop = await _auth.OkAsync<LoginUser, UserSessionIssued>(new LoginUser(account, "pass-word-1"));
        Assert.NotNull((await _auth.RefreshAsync(login.RefreshToken)).Ok);

        var (thief, refused) = await _auth.RefreshAsync(login.RefreshToken, resetSecret: true);

        Assert.Null(thief);
        Assert.Equal(401, refused!.Code);
        Assert.Equal(0, await _auth.WithDbAsync(db => db.Users.Where(u => u.Id == login.UserId).Select(u => u.TokenVersion).SingleAsync()));
        Assert.False(await _auth.Bus.Published.Any<UserTokensRevoked>());
        Assert.True(await _auth.AccessWorksAsync(laptop.AccessToken));
        Assert.NotNull((await _auth.RefreshAsync(laptop.RefreshToken)).Ok);
    }

    [Fact]
    public async Task Reset_secret_with_the_current_refresh_token_revokes_every_earlier_token_and_answers_a_working_pair()
    {
        var login = await _auth.RegisterAsync();
        var account = (await _auth.WithDbAsync(db => db.Users.SingleAsync(u => u.Id == login.UserId))).Account;
        var laptop = await _auth.OkAsync<LoginUser, UserSessionIssued>(new LoginUser(account, "pass-word-1"));

        var (reset, _) = await _auth.RefreshAsync(login.RefreshToken, resetSecret: true);

        Assert.NotNull(reset);
        Assert.True(await _auth.Bus.Published.Any<UserTokensRevoked>(x => x.Context.Message.TokenVersion == 1));
        Assert.False(await _auth.AccessWorksAsync(laptop.AccessToken));
        Assert.False(await _auth.AccessWorksAsync(login.AccessToken));
        Assert.True(await _auth.AccessWorksAsync(reset.AccessToken));
        Assert.NotNull((await _auth.RefreshAsync(reset.RefreshToken)).Ok);
    }

    [Fact]
    public async Task A_refresh_token_issued_before_sessions_existed_works_once_then_counts_as_reused()
    {
        var login = await _auth.RegisterAsync();
        var user = await _auth.WithDbAsync(db => db.Users.AsNoTracking().SingleAsync(u => u.Id == login.UserId));
        var legacy = _auth.Get<TokenService>().Issue(user, TokenService.RefreshGrant, sessionId: 0);
        Assert.True(await _auth.CheckWorksAsync(legacy));

        var (first, _) = await _auth.RefreshAsync(legacy);
        var (second, refused) = await _auth.RefreshAsync(legacy);

        Assert.NotNull(first);
        Assert.Null(second);
        Assert.Equal(401, refused!.Code);
        Assert.False(await _auth.AccessWorksAsync(first.AccessToken));
        Assert.True(await _auth.AccessWorksAsync(login.AccessToken), "the user's own login is another session");
    }

    [Fact]
    public async Task Logout_revokes_every_session_and_a_refresh_after_it_revokes_nothing_more()
    {
        var login = await _auth.RegisterAsync();
        await _auth.OkAsync<LogoutUser, UserLoggedOut>(new LogoutUser(login.AccessToken));

        var (refreshed, refused) = await _auth.RefreshAsync(login.RefreshToken);

        Assert.Null(refreshed);
        Assert.Equal(401, refused!.Code);
        Assert.False(await _auth.Bus.Published.Any<UserSessionRevoked>());
    }

    [Fact]
    public async Task Check_sessions_names_the_revoked_and_logged_out_sessions_and_not_the_live_ones()
    {
        var live = await _auth.RegisterAsync();
        var reused = await _auth.RegisterAsync();
        var loggedOut = await _auth.RegisterAsync();
        Assert.NotNull((await _auth.RefreshAsync(reused.RefreshToken)).Ok);
        Assert.Null((await _auth.RefreshAsync(reused.RefreshToken)).Ok);
        await _auth.OkAsync<LogoutUser, UserLoggedOut>(new LogoutUser(loggedOut.AccessToken));
        async Task<LiveSession> SessionOf(UserSessionIssued s) =>
            (await _auth.WithDbAsync(db => db.LoginSessions.Where(x => x.UserId == s.UserId).Select(x => new LiveSession(x.UserId, x.Id, 0)).SingleAsync()));
        var asked = new[] { await SessionOf(live), await SessionOf(reused), await SessionOf(loggedOut), new LiveSession(live.UserId, 0, 0) };

        var answer = await _auth.OkAsync<CheckSessions, SessionsChecked>(new CheckSessions(asked));

        Assert.Equal(new[] { asked[1], asked[2] }, answer.Revoked.OrderBy(s => Array.IndexOf(asked, s)));
    }

    [Fact]
    public async Task Expired_refresh_tokens_and_sessions_are_pruned_and_live_ones_kept()
    {
        var old = await _auth.RegisterAsync();
        Assert.NotNull((await _auth.RefreshAsync(old.RefreshToken)).Ok);
        _auth.Time.Advance(TimeSpan.FromDays(29));
        var recent = await _auth.RegisterAsync();
        _auth.Time.Advance(TimeSpan.FromDays(2));
        var prune = new PruneExpiredSessions(_auth.Get<Microsoft.Extensions.DependencyInjection.IServiceScopeFactory>(), _auth.Time,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<PruneExpiredSessions>.Instance);

        var (tokens, sessions) = await prune.PruneAsync(CancellationToken.None);

        Assert.Equal((2, 1), (tokens, sessions));
        Assert.Equal(1, await _auth.WithDbAsync(db => db.LoginSessions.CountAsync()));
        Assert.True(await _auth.CheckWorksAsync(recent.RefreshToken));
    }
}

/// <summary>The token settings refuse, at start and naming the key, what cannot work.</summary>
public sealed class TokenOptionsTests
{
    [Theory]
    [InlineData(0, 86400, 0, "Auth:Tokens:AccessLifetimeSeconds")]
    [InlineData(7200, 3600, 0, "Auth:Tokens:RefreshLifetimeSeconds")]
    [InlineData(7200, 86400, 61, "Auth:Tokens:RefreshReuseGraceSeconds")]
    [InlineData(7200, 86400, -1, "Auth:Tokens:RefreshReuseGraceSeconds")]
    public void A_setting_that_cannot_work_stops_the_start_naming_its_key(int access, int refresh, int grace, string key)
    {
        var options = new TokenOptions { AccessLifetimeSeconds = access, RefreshLifetimeSeconds = refresh, RefreshReuseGraceSeconds = grace };

        var error = Assert.Throws<StartupException>(() => options.Validate());

        Assert.StartsWith(key + " must be", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_are_easyims_lifetimes_and_no_reuse_grace()
    {
        var options = new TokenOptions().Validate();

        Assert.Equal((7200, 30 * 86400, 0), (options.AccessLifetimeSeconds, options.RefreshLifetimeSeconds, options.RefreshReuseGraceSeconds));
    }
}

/// <summary>With a reuse grace, a refresh retried soon after (its answer lost) gets another pair; later it is a reuse.</summary>
public sealed class RefreshReuseGraceTests : IAsyncLifetime
{
    private AuthHarness _auth = null!;

    public async Task InitializeAsync() => _auth = await AuthHarness.StartAsync(new TokenOptions { RefreshReuseGraceSeconds = 10 });

    public async Task DisposeAsync() => await _auth.DisposeAsync();

    [Fact]
    public async Task A_retry_within_the_grace_gets_a_working_pair_and_one_after_it_revokes_the_session()
    {
        var login = await _auth.RegisterAsync();
        var (lost, _) = await _auth.RefreshAsync(login.RefreshToken);
        _auth.Time.Advance(TimeSpan.FromSeconds(10));

        var (retried, _) = await _auth.RefreshAsync(login.RefreshToken);

        Assert.NotNull(retried);
        Assert.NotEqual(lost!.RefreshToken, retried.RefreshToken);
        Assert.True(await _auth.AccessWorksAsync(retried.AccessToken));
        _auth.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(401, (await _auth.RefreshAsync(login.RefreshToken)).Rejected?.Code);
        Assert.False(await _auth.AccessWorksAsync(retried.AccessToken));
    }

    [Fact]
    public async Task A_reset_secret_never_gets_the_grace()
    {
        var login = await _auth.RegisterAsync();
        Assert.NotNull((await _auth.RefreshAsync(login.RefreshToken)).Ok);

        Assert.Equal(401, (await _auth.RefreshAsync(login.RefreshToken, resetSecret: true)).Rejected?.Code);
        Assert.Equal(0, await _auth.WithDbAsync(db => db.Users.Where(u => u.Id == login.UserId).Select(u => u.TokenVersion).SingleAsync()));
    }
}

using System.Security.Cryptography;
using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Auth;

public sealed class TokenServiceTests : IDisposable
{
    private readonly string _dbPath = Path.Combine(Path.GetTempPath(), $"easyim-unit-{Guid.NewGuid():N}.db");
    private readonly SigningKeyStore _keys = new();
    private readonly ManualTime _time = new(DateTimeOffset.UtcNow);
    private readonly TokenService _tokens;
    private readonly AuthDbContext _db;

    public TokenServiceTests()
    {
        _keys.Set(RandomNumberGenerator.GetBytes(64));
        _tokens = new TokenService(_keys, _time, new TokenOptions());
        _db = new SqliteAuthDbContext(new DbContextOptionsBuilder<SqliteAuthDbContext>().UseSqlite($"Data Source={_dbPath}").Options);
        _db.Database.Migrate();
    }

    public void Dispose()
    {
        _db.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_dbPath);
    }

    private async Task<User> AddUserAsync()
    {
        var user = new User { Id = Random.Shared.NextInt64(1, long.MaxValue), Account = "acc", AccountKey = "acc" + Guid.NewGuid().ToString("N"), Nickname = "n", PasswordHash = "x" };
        _db.Users.Add(user);
        await _db.SaveChangesAsync();
        return user;
    }

    [Fact]
    public async Task An_issued_access_token_reads_back_with_its_user_grant_version_and_lifetime()
    {
        var user = await AddUserAsync();

        var claims = await _tokens.ReadAsync(_tokens.Issue(user, TokenService.AccessGrant, sessionId: 0));

        Assert.NotNull(claims);
        Assert.Equal(user.Id, claims.UserId);
        Assert.Equal(TokenService.AccessGrant, claims.GrantType);
        Assert.Equal(0, claims.TokenVersion);
        Assert.InRange(_tokens.SecondsLeft(claims), 7199, 7200);
    }

    [Fact]
    public async Task A_refresh_token_lives_thirty_days()
    {
        var user = await AddUserAsync();

        var claims = await _tokens.ReadAsync(_tokens.Issue(user, TokenService.RefreshGrant, sessionId: 0));

        Assert.Equal(TokenService.RefreshGrant, claims!.GrantType);
        Assert.InRange(_tokens.SecondsLeft(claims), 30 * 86400 - 1, 30 * 86400);
    }

    [Fact]
    public async Task An_expired_token_is_refused()
    {
        var user = await AddUserAsync();
        var issuedLongAgo = new TokenService(_keys, new ManualTime(DateTimeOffset.UtcNow.AddHours(-3)), new TokenOptions());

        Assert.Null(await _tokens.ReadAsync(issuedLongAgo.Issue(user, TokenService.AccessGrant, sessionId: 0)));
    }

    [Fact]
    public async Task A_token_signed_with_another_key_or_tampered_with_is_refused()
    {
        var user = await AddUserAsync();
        var otherKeys = new SigningKeyStore();
        otherKeys.Set(RandomNumberGenerator.GetBytes(64));
        var foreign = new TokenService(otherKeys, _time, new TokenOptions()).Issue(user, TokenService.AccessGrant, sessionId: 0);
        var token = _tokens.Issue(user, TokenService.AccessGrant, sessionId: 0);
        var parts = token.Split('.');
        var tampered = parts[0] + "." + parts[1].Replace(parts[1][5], parts[1][5] == 'A' ? 'B' : 'A') + "." + parts[2];

        Assert.Null(await _tokens.ReadAsync(foreign));
        Assert.Null(await _tokens.ReadAsync(tampered));
        Assert.Null(await _tokens.ReadAsync("not-a-token"));
        Assert.Null(await _tokens.ReadAsync(""));
        Assert.Null(await _tokens.ReadAsync(null));
    }

    [Fact]
    public async Task Moving_the_users_token_version_revokes_tokens_issued_before()
    {
        var user = await AddUserAsync();
        var before = _tokens.Issue(user, TokenService.AccessGrant, sessionId: 0);
        Assert.NotNull(await _tokens.AuthenticateAsync(_db, before, TokenService.AccessGrant, default));

        user.TokenVersion++;
        await _db.SaveChangesAsync();
        var after = _tokens.Issue(user, TokenService.AccessGrant, sessionId: 0);

        Assert.Null(await _tokens.AuthenticateAsync(_db, before, TokenService.AccessGrant, default));
        Assert.NotNull(await _tokens.AuthenticateAsync(_db, after, TokenService.AccessGrant, default));
    }

    [Fact]
    public async Task Authenticate_insists_on_the_wanted_grant_type()
    {
        var user = await AddUserAsync();
        var refresh = _tokens.Issue(user, TokenService.RefreshGrant, sessionId: 0);

        Assert.Null(await _tokens.AuthenticateAsync(_db, refresh, TokenService.AccessGrant, default));
        Assert.NotNull(await _tokens.AuthenticateAsync(_db, refresh, TokenService.RefreshGrant, default));
        Assert.NotNull(await _tokens.AuthenticateAsync(_db, refresh, grantType: null, default));
    }

    [Fact]
    public async Task A_token_of_a_user_who_does_not_exist_is_refused()
    {
        var ghost = new User { Id = 42, Account = "ghost", AccountKey = "ghost", Nickname = "g", PasswordHash = "x" };

        Assert.Null(await _tokens.AuthenticateAsync(_db, _tokens.Issue(ghost, TokenService.AccessGrant, sessionId: 0), TokenService.AccessGrant, default));
    }
}

internal sealed class ManualTime(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

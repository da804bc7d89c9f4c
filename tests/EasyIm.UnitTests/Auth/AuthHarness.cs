using System.Security.Cryptography;
using EasyIm.Auth;
using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Hosting.Ids;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Auth;

/// <summary>
/// The auth consumers on MassTransit's test harness over a SQLite file built by the real migrations, on a
/// fake clock: requests go in as the gateway sends them, events come out as the gateways would hear them.
/// </summary>
internal sealed class AuthHarness : IAsyncDisposable
{
    private readonly string _dbPath = Path.Combine(Path.GetTempPath(), $"easyim-auth-{Guid.NewGuid():N}.db");
    private ServiceProvider _provider = null!;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public ITestHarness Bus => _provider.GetTestHarness();

    public static async Task<AuthHarness> StartAsync(TokenOptions? options = null, LoginThrottleOptions? throttle = null)
    {
        var harness = new AuthHarness();
        var services = new ServiceCollection();
        services.AddLogging();
        // Default Timeout: racing writers wait for SQLite's lock, as busy_timeout makes them in the server.
        services.AddDbContext<AuthDbContext, SqliteAuthDbContext>(o => o.UseSqlite($"Data Source={harness._dbPath};Default Timeout=10"));
        services.AddSingleton<TimeProvider>(harness.Time);
        var ids = new SnowflakeIds(TimeProvider.System);
        ids.SetNode(1);
        services.AddKeyedSingleton(AuthDbContext.Service, ids);
        var keys = new SigningKeyStore();
        keys.Set(RandomNumberGenerator.GetBytes(64));
        services.AddSingleton(keys);
        services.AddSingleton((options ?? new TokenOptions()).Validate());
        services.AddSingleton(new PasswordHashing(PasswordHashing.MinIterations));
        services.AddSingleton<TokenService>();
        services.AddScoped<SessionTokens>();
        services.AddSingleton(throttle ?? new LoginThrottleOptions());
        services.AddSingleton<LoginThrottle>();
        services.AddMassTransitTestHarness(bus =>
        {
            bus.SetTestTimeouts(testInactivityTimeout: TimeSpan.FromMilliseconds(300));
            AuthModule.AddAuthConsumers(bus);
        });
        harness._provider = services.BuildServiceProvider(validateScopes: true);
        await using (var scope = harness._provider.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<AuthDbContext>().Database.MigrateAsync();
        await harness.Bus.Start();
        return harness;
    }

    public async Task<T> WithDbAsync<T>(Func<AuthDbContext, Task<T>> work)
    {
        await using var scope = _provider.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<AuthDbContext>());
    }

    public T Get<T>() where T : notnull => _provider.GetRequiredService<T>();

    public LoginThrottle Throttle => Get<LoginThrottle>();

    /// <summary>The success reply, or the rejection.</summary>
    public async Task<(TOk? Ok, RequestRejected? Rejected)> AskAsync<TRequest, TOk>(TRequest request) where TRequest : class where TOk : class
    {
        var response = await Bus.GetRequestClient<TRequest>().GetResponse<TOk, RequestRejected>(request, timeout: RequestTimeout.After(s: 30));
        if (response.Is(out Response<TOk>? ok))
            return (ok.Message, null);
        response.Is(out Response<RequestRejected>? rejected);
        return (null, rejected!.Message);
    }

    public async Task<TOk> OkAsync<TRequest, TOk>(TRequest request) where TRequest : class where TOk : class
    {
        var (ok, rejected) = await AskAsync<TRequest, TOk>(request);
        Assert.True(ok is not null, $"expected {typeof(TOk).Name}, got {rejected}");
        return ok!;
    }

    public Task<UserSessionIssued> RegisterAsync() =>
        OkAsync<RegisterUser, UserSessionIssued>(new RegisterUser("u" + Guid.NewGuid().ToString("N")[..12], "pass-word-1", ""));

    /// <summary>Registers a fresh account with <paramref name="password"/> and returns its name.</summary>
    public async Task<string> RegisterAccountAsync(string password = "right-password")
    {
        var account = "u" + Guid.NewGuid().ToString("N")[..12];
        await OkAsync<RegisterUser, UserSessionIssued>(new RegisterUser(account, password, ""));
        return account;
    }

    public Task<(UserSessionIssued? Ok, RequestRejected? Rejected)> LoginAsync(string account, string password) =>
        AskAsync<LoginUser, UserSessionIssued>(new LoginUser(account, password));

    /// <summary>The style's rule for consumer tests: whatever else happened, no consumer faulted.</summary>
    public async Task AssertNoFaultsAsync() =>
        Assert.False(await Bus.Published.Any(m => m.MessageObject is Fault), "a consumer faulted");

    public Task<(TokenRefreshed? Ok, RequestRejected? Rejected)> RefreshAsync(string refreshToken, bool resetSecret = false) =>
        AskAsync<RefreshToken, TokenRefreshed>(new RefreshToken(TokenService.AccessGrant, refreshToken, resetSecret));

    /// <summary>True when auth takes the access token for a live one of its user.</summary>
    public async Task<bool> AccessWorksAsync(string accessToken) =>
        (await AskAsync<ValidateAccessToken, AccessTokenValidated>(new ValidateAccessToken(null, accessToken))).Ok is not null;

    public async Task<bool> CheckWorksAsync(string token) =>
        (await AskAsync<CheckToken, TokenChecked>(new CheckToken(token))).Ok is not null;

    public async ValueTask DisposeAsync()
    {
        await Bus.Stop();
        await _provider.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _dbPath, _dbPath + "-wal", _dbPath + "-shm" })
            File.Delete(file);
    }
}

using System.Security.Cryptography;
using EasyIm.Auth;
using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Hosting.Ids;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Auth;

/// <summary>
/// Auth's consumers on MassTransit's test harness over an in-memory SQLite database built by the real
/// migrations, with cheap password hashes (the throttle counts checks, not their cost).
/// </summary>
public sealed class AuthHarness : IAsyncDisposable
{
    private readonly SqliteConnection _keepAlive;
    private readonly ServiceProvider _provider;

    private AuthHarness(SqliteConnection keepAlive, ServiceProvider provider)
    {
        _keepAlive = keepAlive;
        _provider = provider;
        Bus = provider.GetRequiredService<ITestHarness>();
        Throttle = provider.GetRequiredService<LoginThrottle>();
    }

    public ITestHarness Bus { get; }
    public LoginThrottle Throttle { get; }

    public static async Task<AuthHarness> StartAsync(LoginThrottleOptions? throttle = null)
    {
        var connectionString = $"Data Source=auth-{Guid.NewGuid():N};Mode=Memory;Cache=Shared";
        var keepAlive = new SqliteConnection(connectionString);
        await keepAlive.OpenAsync();

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<AuthDbContext, SqliteAuthDbContext>(o => o.UseSqlite(connectionString));
        var ids = new SnowflakeIds(TimeProvider.System);
        ids.SetNode(1);
        services.AddKeyedSingleton(AuthDbContext.Service, ids);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new PasswordHashing(PasswordHashing.MinIterations));
        var keys = new SigningKeyStore();
        keys.Set(RandomNumberGenerator.GetBytes(64));
        services.AddSingleton(keys);
        services.AddSingleton<TokenService>();
        services.AddSingleton(throttle ?? new LoginThrottleOptions());
        services.AddSingleton<LoginThrottle>();
        services.AddMassTransitTestHarness(bus =>
        {
            bus.SetTestTimeouts(testInactivityTimeout: TimeSpan.FromMilliseconds(300));
            AuthModule.AddAuthConsumers(bus);
        });
        var provider = services.BuildServiceProvider(validateScopes: true);
        await using (var scope = provider.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<AuthDbContext>().Database.MigrateAsync();
        var harness = new AuthHarness(keepAlive, provider);
        await harness.Bus.Start();
        return harness;
    }

    /// <summary>The session, or the rejection.</summary>
    public async Task<(UserSessionIssued? Session, RequestRejected? Rejected)> AskAsync<TRequest>(TRequest request) where TRequest : class
    {
        var response = await Bus.GetRequestClient<TRequest>().GetResponse<UserSessionIssued, RequestRejected>(request, timeout: RequestTimeout.After(s: 10));
        if (response.Is(out Response<UserSessionIssued>? ok))
            return (ok.Message, null);
        response.Is(out Response<RequestRejected>? rejected);
        return (null, rejected!.Message);
    }

    public Task<(UserSessionIssued? Session, RequestRejected? Rejected)> LoginAsync(string account, string password) =>
        AskAsync(new LoginUser(account, password));

    public async Task<string> RegisterAsync(string password = "right-password")
    {
        var account = "u" + Guid.NewGuid().ToString("N")[..12];
        var (session, rejected) = await AskAsync(new RegisterUser(account, password, ""));
        Assert.True(session is not null, $"registration refused: {rejected}");
        return account;
    }

    public async Task AssertNoFaultsAsync() =>
        Assert.False(await Bus.Published.Any(m => m.MessageObject is Fault), "a consumer faulted");

    public async ValueTask DisposeAsync()
    {
        await Bus.Stop();
        await _provider.DisposeAsync();
        await _keepAlive.DisposeAsync();
    }
}

using System.Collections.Concurrent;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Friends;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Ids;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Friends;

/// <summary>
/// The friends consumers on MassTransit's test harness (in-memory bus) over an in-memory SQLite
/// database built by the real migrations, with auth played by <see cref="FakeAuth"/>.
/// </summary>
public sealed class FriendsHarness : IAsyncDisposable
{
    private readonly SqliteConnection _keepAlive;
    private readonly ServiceProvider _provider;
    private long _nextUserId = 1000;

    private FriendsHarness(SqliteConnection keepAlive, ServiceProvider provider)
    {
        _keepAlive = keepAlive;
        _provider = provider;
        Bus = provider.GetRequiredService<ITestHarness>();
        Auth = provider.GetRequiredService<FakeAuth>();
        Messaging = provider.GetRequiredService<FakeMessaging>();
        Hook = provider.GetRequiredService<SaveHook>();
    }

    /// <summary>Lets a test slip a competing write in just before a consumer's next save: a race, made to happen.</summary>
    public SaveHook Hook { get; }

    public ITestHarness Bus { get; }

    /// <summary>Messaging's projection as far as friends' read-your-writes requests reach it.</summary>
    public FakeMessaging Messaging { get; }

    /// <summary>The users auth knows, whether or not the friends projection has heard of them.</summary>
    public FakeAuth Auth { get; }

    /// <summary>Starts the consumers; <paramref name="options"/> replaces the defaults (small caps, so a test reaches them quickly).</summary>
    /// <param name="failPublish">When it says so for a message, publishing that message throws (a broker fault after a commit).</param>
    public static async Task<FriendsHarness> StartAsync(FriendsOptions? options = null, Func<object, bool>? failPublish = null)
    {
        // A named shared-cache memory database lives while one connection to it is open; every
        // DbContext opens its own connection to it, so consumers running at once do not share one.
        var connectionString = $"Data Source=friends-{Guid.NewGuid():N};Mode=Memory;Cache=Shared";
        var keepAlive = new SqliteConnection(connectionString);
        await keepAlive.OpenAsync();

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<SaveHook>();
        services.AddDbContext<FriendsDbContext, SqliteFriendsDbContext>((sp, o) => o.UseSqlite(connectionString).AddInterceptors(sp.GetRequiredService<SaveHook>()));
        var ids = new SnowflakeIds(TimeProvider.System);
        ids.SetNode(1);
        services.AddKeyedSingleton(FriendsDbContext.Service, ids);
        services.AddSingleton<TimeProvider>(new SteppingTime());
        if (options is not null)
            services.AddSingleton(options);
        services.AddFriendsServices();
        services.AddSingleton<FakeAuth>();
        services.AddSingleton<FakeMessaging>();
        services.AddMassTransitTestHarness(bus =>
        {
            // Checking that no fault was published waits this long for quiet; the default is 1.2 s.
            bus.SetTestTimeouts(testInactivityTimeout: TimeSpan.FromMilliseconds(300));
            FriendsModule.AddFriendsConsumers(bus);
            bus.AddConsumer<FakeAuthConsumer>();
            bus.AddConsumer<FakeMessagingConsumer>();
            if (failPublish is not null)
            {
                bus.UsingInMemory((context, cfg) =>
                {
                    cfg.ConfigurePublish(publish => publish.UseExecute(sending =>
                    {
                        if (failPublish(GetMessage(sending)))
                            throw new InvalidOperationException("the broker refused the publish (a test's fault)");
                    }));
                    cfg.ConfigureEndpoints(context);
                });
            }
        });
        var provider = services.BuildServiceProvider(validateScopes: true);
        await using (var scope = provider.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<FriendsDbContext>().Database.MigrateAsync();
        var harness = new FriendsHarness(keepAlive, provider);
        await harness.Bus.Start();
        return harness;
    }

    private static object GetMessage(PublishContext context) =>
        context.GetType().GetProperty(nameof(PublishContext<object>.Message))?.GetValue(context) ?? new object();

    /// <summary>The container the consumers run in.</summary>
    public IServiceProvider Services => _provider;

    public async ValueTask DisposeAsync()
    {
        await Bus.Stop();
        await _provider.DisposeAsync();
        await _keepAlive.DisposeAsync();
    }

    /// <summary>A user known to auth and, unless <paramref name="projected"/> is false, to the friends projection.</summary>
    public async Task<long> NewUserAsync(string? account = null, string? nickname = null, bool projected = true)
    {
        var id = Interlocked.Increment(ref _nextUserId);
        account ??= $"user{id}";
        var profile = new UserProfile(id, account, nickname ?? account, "/static/avatar.svg");
        Auth.Users[id] = profile;
        if (projected)
        {
            await WithDbAsync(db =>
            {
                db.Users.Add(new User
                {
                    Id = id, Account = account, AccountKey = User.Key(account),
                    Nickname = profile.Nickname, NicknameKey = User.Key(profile.Nickname), Avatar = profile.Avatar,
                });
                return db.SaveChangesAsync();
            });
        }
        return id;
    }

    public async Task<T> WithDbAsync<T>(Func<FriendsDbContext, Task<T>> work)
    {
        await using var scope = _provider.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<FriendsDbContext>());
    }

    /// <summary>Sends a request and returns its success reply or its rejection.</summary>
    public async Task<Reply<TOk>> AskAsync<TRequest, TOk>(TRequest request, Guid? messageId = null)
        where TRequest : class where TOk : class
    {
        var client = Bus.GetRequestClient<TRequest>();
        var response = messageId is { } id
            ? await client.GetResponse<TOk, RequestRejected>(request, x => x.UseExecute(c => c.MessageId = id), timeout: RequestTimeout.After(s: 10))
            : await client.GetResponse<TOk, RequestRejected>(request, timeout: RequestTimeout.After(s: 10));
        if (response.Is(out Response<TOk>? ok))
            return new Reply<TOk>(ok.Message, null);
        response.Is(out Response<RequestRejected>? rejected);
        return new Reply<TOk>(null, rejected!.Message);
    }

    public async Task<TOk> OkAsync<TRequest, TOk>(TRequest request) where TRequest : class where TOk : class
    {
        var reply = await AskAsync<TRequest, TOk>(request);
        Assert.True(reply.Ok is not null, $"expected {typeof(TOk).Name}, got {reply.Rejected}");
        return reply.Ok!;
    }

    /// <summary>
    /// The style's rule for consumer tests: whatever else happened, no consumer faulted (after its
    /// retries: a lost concurrency race that a retry settles is not a fault).
    /// </summary>
    public async Task AssertNoFaultsAsync()
    {
        Assert.False(await Bus.Published.Any(m => m.MessageObject is Fault), "a consumer faulted");
    }

    /// <summary>
    /// Waits, at most <paramref name="seconds"/>, for something an event consumer does. The harness's
    /// own waits end for good at its first quiet spell, so a late event would be missed; this polls.
    /// </summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what, int seconds = 10)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (!condition())
        {
            if (timeout.IsCancellationRequested)
                Assert.Fail($"timed out after {seconds} s waiting for {what}");
            await Task.Delay(10);
        }
    }

    public Task ConsumedAsync<T>(Func<T, bool> match) where T : class =>
        EventuallyAsync(() => Bus.Consumed.Select<T>().Any(m => m.Exception is null && match(m.Context.Message)), $"{typeof(T).Name} to be consumed");

    /// <summary>The messages of type <typeparamref name="T"/> published so far, in order.</summary>
    public List<T> Published<T>() where T : class =>
        Bus.Published.Select<T>().Select(m => m.Context.Message).ToList();

    /// <summary>
    /// What friends announced to users, in the form the gateways get it: its own pushes (PushToUsers), then the events it
    /// staged for the users' streams (<see cref="EasyIm.Contracts.Messaging.AppendStreamUpdates"/>, which messaging pushes), one PushToUsers each.
    /// </summary>
    public List<EasyIm.Contracts.Gateway.PushToUsers> Announced() =>
    [
        .. Published<EasyIm.Contracts.Gateway.PushToUsers>(),
        .. Published<EasyIm.Contracts.Messaging.AppendStreamUpdates>().Select(a =>
            new EasyIm.Contracts.Gateway.PushToUsers([.. a.Updates.Select(u => new EasyIm.Contracts.Gateway.UserPush(u.UserId, u.Event))])),
    ];

    /// <summary>The messages of type <typeparamref name="T"/> sent to one endpoint so far (a gateway's, say), in order, with where they went.</summary>
    public List<(Uri? To, T Message)> Sent<T>() where T : class =>
        Bus.Sent.Select<T>().Select(m => (m.Context.DestinationAddress, m.Context.Message)).ToList();
}

public sealed record Reply<T>(T? Ok, RequestRejected? Rejected) where T : class;

/// <summary>What messaging was asked to apply before friends answered; <see cref="Silent"/> makes it not answer.</summary>
public sealed class FakeMessaging
{
    public ConcurrentQueue<object> Applied { get; } = new();
    public volatile bool Silent;
}

public sealed class FakeMessagingConsumer(FakeMessaging messaging) : IConsumer<ApplyGroupMembers>, IConsumer<ApplyFriendship>
{
    public Task Consume(ConsumeContext<ApplyGroupMembers> context)
    {
        if (messaging.Silent)
            return Task.CompletedTask;
        foreach (var added in context.Message.Added)
            messaging.Applied.Enqueue(added);
        foreach (var removed in context.Message.Removed ?? [])
            messaging.Applied.Enqueue(removed);
        return context.RespondAsync(new GroupMembersApplied(context.Message.Added.Count + (context.Message.Removed?.Count ?? 0)));
    }

    public Task Consume(ConsumeContext<ApplyFriendship> context)
    {
        if (messaging.Silent)
            return Task.CompletedTask;
        messaging.Applied.Enqueue((object?)context.Message.Created ?? (object?)context.Message.Removed ?? context.Message.Block!);
        return context.RespondAsync(new FriendshipApplied());
    }
}

/// <summary>Auth's user look-up, for the projection rule: what auth knows, the friends service may not know yet.</summary>
public sealed class FakeAuth
{
    public ConcurrentDictionary<long, UserProfile> Users { get; } = new();
    public int Lookups;
}

public sealed class FakeAuthConsumer(FakeAuth auth) : IConsumer<GetUserProfiles>
{
    public Task Consume(ConsumeContext<GetUserProfiles> context)
    {
        Interlocked.Increment(ref auth.Lookups);
        var accounts = (context.Message.Accounts ?? []).Select(a => a.ToLowerInvariant()).ToHashSet();
        return context.RespondAsync(new UserProfiles(auth.Users.Values
            .Where(u => context.Message.UserIds.Contains(u.UserId) || accounts.Contains(u.Account.ToLowerInvariant()))
            .ToList()));
    }
}

/// <summary>A clock that moves one second on every reading, so that "who joined first" never ties.</summary>
public sealed class SteppingTime : TimeProvider
{
    private long _ms = DateTimeOffset.Parse("2026-01-01T00:00:00Z").ToUnixTimeMilliseconds();

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(Interlocked.Add(ref _ms, 1000));
}

/// <summary>Runs an action once, just before the next SaveChanges of any friends DbContext.</summary>
public sealed class SaveHook : SaveChangesInterceptor
{
    private Func<Task>? _once;

    public void BeforeNextSave(Func<Task> action) => _once = action;

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _once, null) is { } action)
            await action();
        return result;
    }
}

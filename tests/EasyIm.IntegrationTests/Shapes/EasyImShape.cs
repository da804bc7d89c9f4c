using System.Net.Http.Json;
using System.Text.Json;
using EasyIm.Messaging.Data;
using EasyIm.Server;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Builder;

namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// A running EasyIm deployment the scenarios talk to over real sockets: its gateway's API and
/// long-connection ports on 127.0.0.1. Scenarios are written once against this and run in
/// every shape.
/// </summary>
public abstract class EasyImShape : IAsyncLifetime
{
    private readonly List<WebApplication> _hosts = [];

    public abstract string Name { get; }

    /// <summary>Why this shape cannot run here, or null when it runs.</summary>
    public string? Unavailable { get; protected set; }

    public int ApiPort { get; } = TestInfrastructure.FreePort();
    public int SocketPort { get; } = TestInfrastructure.FreePort();
    public Uri ApiBase => new($"http://127.0.0.1:{ApiPort}");
    public HttpClient Http { get; private set; } = new();

    /// <summary>Skips the calling test, with the reason, when the shape cannot run here.</summary>
    public void RequireAvailable() => Skip.If(Unavailable is not null, Unavailable);

    public async Task InitializeAsync()
    {
        await PrepareAsync();
        if (Unavailable is not null)
        {
            if (TestInfrastructure.Required)
                throw new InvalidOperationException($"{Name} shape: {Unavailable} ({TestInfrastructure.RequireVariable} is set)");
            return;
        }
        Http = new HttpClient { BaseAddress = ApiBase, Timeout = TimeSpan.FromSeconds(30) };
        await StartHostsAsync();
    }

    public async Task DisposeAsync()
    {
        await StopHostsAsync();
        Http.Dispose();
        await CleanUpAsync();
    }

    /// <summary>Finds what the shape needs; sets <see cref="Unavailable"/> when something is missing.</summary>
    protected abstract Task PrepareAsync();

    /// <summary>The processes of the shape: (target, settings) for each.</summary>
    protected abstract IEnumerable<(string Target, Dictionary<string, string?> Settings)> Hosts();

    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    /// <summary>Settings of this shape's own on top of every host's (a server instance of a test's own, e.g. with short-lived tokens).</summary>
    protected virtual void Configure(Dictionary<string, string?> settings)
    {
    }

    /// <summary>Settings every host of every shape shares.</summary>
    protected static Dictionary<string, string?> Common()
    {
        var settings = new Dictionary<string, string?>
        {
            ["EasyIm:ListenAddress"] = "127.0.0.1",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:EasyIm"] = "Information",
            // Short, so that the handshake timeout and the idle drop are seen within a test (defaults 10 s and 300 s).
            ["Gateway:HandshakeTimeout"] = "3",
            ["Gateway:DropAfter"] = "6",
        };
        foreach (var (key, value) in LoopbackBudgets)
            settings[key] = value;
        return settings;
    }

    /// <summary>
    /// Every test client is 127.0.0.1, so the per-address budgets (meant for one client's address) would take the
    /// suite's hundreds of registrations and logins for an attack. Shapes that share a server raise them; the
    /// tests of those budgets run on a server of their own with the shipped defaults (Abuse/ShippedBudgetsShape).
    /// The per-account budgets (auth) stay as shipped: each test makes its own users.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> LoopbackBudgets = new Dictionary<string, string>
    {
        ["Gateway:Throttle:Login:Limit"] = "1000000",
        ["Gateway:Throttle:Register:Limit"] = "1000000",
        ["Gateway:Throttle:Refresh:Limit"] = "1000000",
    };

    /// <summary>
    /// The services of the process that runs the gateway (started last in every shape): for tests
    /// that play a service on the bus, or look at the gateway's connections.
    /// </summary>
    public IServiceProvider GatewayServices => _hosts.Count > 0
        ? _hosts[^1].Services
        : throw new InvalidOperationException($"the {Name} shape is not running");

    /// <summary>
    /// Stores a one-to-one message as messaging would (the conversation's next seq, in one transaction)
    /// but pushes it nowhere: what a live recipient sees when messaging dies between its commit and its
    /// push. The conversation must exist and no send may be storing into it meanwhile. Returns the seq.
    /// </summary>
    public async Task<long> StoreWithoutPushAsync(string conversationId, long senderId, long toId, string content, string clientMsgId)
    {
        await using var scope = MessagingServices.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MessagingDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var conversation = await db.Conversations.SingleAsync(c => c.Id == conversationId);
        conversation.LastSeq++;
        db.Messages.Add(new Message
        {
            Id = Random.Shared.NextInt64(1L << 60, long.MaxValue),
            ConversationId = conversationId,
            ConversationSeq = conversation.LastSeq,
            SenderId = senderId,
            ToId = toId,
            ClientMsgId = clientMsgId,
            ChatType = 1,
            MsgType = 1,
            Content = content,
            SentAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        });
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        return conversation.LastSeq;
    }

    /// <summary>Runs <paramref name="work"/> on messaging's store (a test's way to plant rows, e.g. a backlog for retention).</summary>
    public async Task<T> OnMessagingStoreAsync<T>(Func<MessagingDbContext, Task<T>> work)
    {
        await using var scope = MessagingServices.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<MessagingDbContext>());
    }

    private IServiceProvider MessagingServices => ServicesWith<MessagingDbContext>();

    /// <summary>
    /// The bus of the process that runs messaging: for tests that push to users as messaging does (in the distributed
    /// shape a gateway's broker account may not publish <c>PushToUsers</c>).
    /// </summary>
    public IBus MessagingBus => MessagingServices.GetRequiredService<IBus>();

    /// <summary>The services of the shape's first process that has a <typeparamref name="T"/> (friends' presence table, say).</summary>
    public IServiceProvider ServicesWith<T>() => _hosts.Select(h => h.Services)
        .FirstOrDefault(s => s.GetRequiredService<IServiceProviderIsService>().IsService(typeof(T)))
        ?? throw new InvalidOperationException($"no process of the {Name} shape has a {typeof(T).Name}");

    /// <summary>
    /// Runs SQL on messaging's store, <paramref name="sqlite"/> or <paramref name="postgres"/> by the shape's
    /// provider: a test's way to make the database itself refuse rows, as a check or a trigger would.
    /// </summary>
    public virtual async Task ExecuteOnMessagingStoreAsync(string sqlite, string postgres)
    {
        await using var scope = MessagingServices.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MessagingDbContext>();
        await db.Database.ExecuteSqlRawAsync(db.Database.IsNpgsql() ? postgres : sqlite);
    }

    private async Task StartHostsAsync()
    {
        foreach (var (target, settings) in Hosts())
        {
            settings[EasyImHost.TargetKey] = target;
            Configure(settings);
            var host = EasyImHost.Build([], settings);
            await host.StartAsync();
            _hosts.Add(host);
        }
        await WaitUntilReadyAsync();
    }

    private async Task StopHostsAsync()
    {
        foreach (var host in Enumerable.Reverse(_hosts))
        {
            await host.StopAsync();
            await host.DisposeAsync();
        }
        _hosts.Clear();
    }

    /// <summary>Stops every process of the shape and starts it again on the same data and ports.</summary>
    public async Task RestartAsync()
    {
        await StopHostsAsync();
        await StartHostsAsync();
    }

    private async Task WaitUntilReadyAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                var response = await Http.GetAsync("/health/ready", timeout.Token);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    // ---- helpers the scenarios share ----

    /// <summary>Posts JSON (or raw text) and returns the HTTP status and the parsed envelope.</summary>
    public async Task<ApiReply> PostAsync(string path, object? body, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Content = body switch
        {
            null => null,
            string raw => new StringContent(raw, System.Text.Encoding.UTF8, "application/json"),
            _ => JsonContent.Create(body),
        };
        if (bearer is not null)
            request.Headers.Authorization = new("Bearer", bearer);
        return await ApiReply.ReadAsync(await Http.SendAsync(request));
    }

    public async Task<ApiReply> GetAsync(string path, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null)
            request.Headers.Authorization = new("Bearer", bearer);
        return await ApiReply.ReadAsync(await Http.SendAsync(request));
    }

    /// <summary>Registers a user with a fresh account; each test makes its own users.</summary>
    public async Task<TestUser> NewUserAsync(string? nickname = null)
    {
        var account = "u" + Guid.NewGuid().ToString("N")[..12];
        const string password = "pass-word-1";
        var reply = await PostAsync("/api/user/register", new { account, password, nickname = nickname ?? account });
        Assert.Equal(200, reply.Status);
        var data = reply.Data;
        return new TestUser(long.Parse(data.GetProperty("id").GetString()!), account, password,
            data.GetProperty("access_token").GetString()!, data.GetProperty("refresh_token").GetString()!);
    }
}

public sealed record TestUser(long Id, string Account, string Password, string AccessToken, string RefreshToken);

/// <summary>An API answer: the HTTP status and easyim's envelope.</summary>
public sealed record ApiReply(int Status, int Code, string Msg, JsonElement Data)
{
    public static async Task<ApiReply> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        return new ApiReply((int)response.StatusCode, root.GetProperty("code").GetInt32(),
            root.GetProperty("msg").GetString() ?? "", root.GetProperty("data").Clone());
    }
}

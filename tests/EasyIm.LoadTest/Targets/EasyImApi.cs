using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace EasyIm.LoadTest.Targets;

/// <summary>A user the run registered: its id and access token.</summary>
public sealed record Account(long Id, string Token);

/// <summary>The HTTP API calls a load run needs (README's HTTP API section), with retries for a busy server.</summary>
/// <param name="localAddress">The loopback address the requests come from (the server budgets each client address); null: the system's choice.</param>
public sealed class EasyImApi(Uri api, IPAddress? localAddress = null) : IDisposable
{
    public const string Password = "load-pass-1";
    private const int Attempts = 5;

    private readonly HttpClient _http = new(Handler(localAddress))
    {
        BaseAddress = api,
        Timeout = TimeSpan.FromSeconds(60),
    };

    private static SocketsHttpHandler Handler(IPAddress? localAddress)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64 };
        if (localAddress is not null)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(localAddress, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        return handler;
    }

    /// <summary>Registers <paramref name="count"/> users <c>{prefix}{i}</c> in parallel, in index order in the result.</summary>
    public async Task<Account[]> RegisterManyAsync(string prefix, int count, int parallelism, TextWriter progress, CancellationToken cancellationToken)
    {
        var accounts = new Account[count];
        var done = 0;
        var watch = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            accounts[i] = await RegisterAsync(prefix + i.ToString(CultureInfo.InvariantCulture), ct);
            var n = Interlocked.Increment(ref done);
            if (count >= 4000 && n % 2000 == 0)
                await progress.WriteLineAsync($"  {_http.BaseAddress!.Authority}: registered {n:N0} of {count:N0} users ({n / watch.Elapsed.TotalSeconds:N0}/s)");
        });
        return accounts;
    }

    /// <summary>Registers one user; a retry that finds the account taken (the first try went through after all) logs in instead.</summary>
    public async Task<Account> RegisterAsync(string account, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (status, data) = await TryPostAsync("/api/user/register", new { account, password = Password, nickname = account[..Math.Min(32, account.Length)] }, null, cancellationToken);
            if (status == HttpStatusCode.Conflict && attempt > 1)
                (status, data) = await TryPostAsync("/api/user/login", new { account, password = Password }, null, cancellationToken);
            if (status == HttpStatusCode.OK)
                return new Account(long.Parse(data.GetProperty("id").GetString()!, CultureInfo.InvariantCulture), data.GetProperty("access_token").GetString()!);
            await RetryOrThrowAsync(attempt, $"register {account}", status, data, cancellationToken);
        }
    }

    /// <summary>One login, not retried: the HTTP status (0: no answer) and the answer's <c>msg</c>.</summary>
    public Task<(HttpStatusCode Status, string Message)> TryLoginAsync(string account, string password, CancellationToken cancellationToken) =>
        TryOnceAsync("/api/user/login", new { account, password }, cancellationToken);

    /// <summary>One registration, not retried: the HTTP status (0: no answer) and the answer's <c>msg</c>.</summary>
    public Task<(HttpStatusCode Status, string Message)> TryRegisterAsync(string account, string password, CancellationToken cancellationToken) =>
        TryOnceAsync("/api/user/register", new { account, password, nickname = account[..Math.Min(32, account.Length)] }, cancellationToken);

    private async Task<(HttpStatusCode, string)> TryOnceAsync(string path, object body, CancellationToken cancellationToken)
    {
        var (status, data) = await TryPostAsync(path, body, null, cancellationToken);
        var message = data.ValueKind switch
        {
            JsonValueKind.Object when data.TryGetProperty("msg", out var msg) && msg.ValueKind == JsonValueKind.String => msg.GetString()!,
            JsonValueKind.String => data.GetString()!,
            _ => status == HttpStatusCode.OK ? "SUCCESS" : data.ToString(),
        };
        return (status, message);
    }

    /// <summary>Sends a friend request; returns the request's id.</summary>
    public async Task<long> AddFriendAsync(Account from, long to, CancellationToken cancellationToken)
    {
        var data = await PostAsync("/api/user/friend/add", new { to_user_id = Id(to) }, from, cancellationToken);
        return long.Parse(data.GetProperty("id").GetString()!, CultureInfo.InvariantCulture);
    }

    public Task AcceptFriendAsync(Account invitee, long requestId, CancellationToken cancellationToken) =>
        PostAsync("/api/user/friend/accept", new { id = Id(requestId) }, invitee, cancellationToken);

    public async Task<long> CreateGroupAsync(Account owner, string name, IEnumerable<long> members, CancellationToken cancellationToken)
    {
        var data = await PostAsync("/api/group/create", new { name, member_ids = members.Select(Id).ToArray() }, owner, cancellationToken);
        return long.Parse(data.GetProperty("id").GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>Adds members; returns the group's member count after.</summary>
    public async Task<int> InviteAsync(Account member, long groupId, IEnumerable<long> users, CancellationToken cancellationToken)
    {
        var data = await PostAsync("/api/group/invite", new { group_id = Id(groupId), user_ids = users.Select(Id).ToArray() }, member, cancellationToken);
        return data.GetProperty("member_count").GetInt32();
    }

    private async Task<JsonElement> PostAsync(string path, object body, Account? caller, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (status, data) = await TryPostAsync(path, body, caller, cancellationToken);
            if (status == HttpStatusCode.OK)
                return data;
            await RetryOrThrowAsync(attempt, path, status, data, cancellationToken);
        }
    }

    /// <summary>A server error or no answer is tried again (up to <see cref="Attempts"/>), anything else is thrown.</summary>
    private static async Task RetryOrThrowAsync(int attempt, string what, HttpStatusCode status, JsonElement answer, CancellationToken cancellationToken)
    {
        var retriable = status is 0 or >= HttpStatusCode.InternalServerError;
        if (!retriable || attempt >= Attempts)
            throw new InvalidOperationException($"{what}: HTTP {(int)status} {answer} (after {attempt} attempt(s))");
        await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), cancellationToken);
    }

    /// <summary>The status and the envelope's <c>data</c> (or the whole answer when it is not the envelope); status 0 when no answer came.</summary>
    private async Task<(HttpStatusCode, JsonElement)> TryPostAsync(string path, object body, Account? caller, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (caller is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", caller.Token);
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonElement answer;
            try
            {
                answer = JsonDocument.Parse(text).RootElement;
            }
            catch (JsonException)
            {
                answer = JsonSerializer.SerializeToElement(text);
            }
            var data = answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty("data", out var d) && response.IsSuccessStatusCode ? d : answer;
            return (response.StatusCode, data);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (0, JsonSerializer.SerializeToElement(ex.Message));
        }
    }

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    public void Dispose() => _http.Dispose();
}

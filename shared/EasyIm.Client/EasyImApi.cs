using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace EasyIm.Client;

/// <summary>A user as the HTTP API lists them.</summary>
public sealed record ApiUser(long Id, string Account, string Nickname);

/// <summary>What login and register return: who, and the token for the long connection.</summary>
public sealed record ApiSession(long UserId, string Nickname, string AccessToken);

/// <summary>A pending friend request to the caller.</summary>
public sealed record ApiFriendRequest(long Id, long FromUserId, string Account, string Message);

/// <summary>A group the caller is in.</summary>
public sealed record ApiGroup(long Id, string Name, int MemberCount);

/// <summary>
/// The HTTP API's account, friend and group routes (port 8889), for clients that also need them
/// besides the long connection. Answers other than 200 are thrown as <see cref="EasyImApiException"/>.
/// </summary>
public sealed class EasyImApi(HttpClient http) : IDisposable
{
    public string? AccessToken { get; set; }

    public static EasyImApi Connect(string host, int apiPort) =>
        new(new HttpClient { BaseAddress = new Uri($"http://{host}:{apiPort}"), Timeout = TimeSpan.FromSeconds(30) });

    /// <summary>Over HTTPS (a server with <c>EasyIm:Tls</c> set); <paramref name="validate"/> checks its certificate, else the system's trust store.</summary>
    public static EasyImApi ConnectTls(string host, int apiPort, System.Net.Security.RemoteCertificateValidationCallback? validate = null) =>
        new(new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = validate } })
        {
            BaseAddress = new Uri($"https://{host}:{apiPort}"),
            Timeout = TimeSpan.FromSeconds(30),
        });

    public async Task<ApiSession> RegisterAsync(string account, string password, string? nickname = null, CancellationToken ct = default) =>
        Session(await PostAsync("/api/user/register", new { account, password, nickname = nickname ?? account }, ct));

    public async Task<ApiSession> LoginAsync(string account, string password, CancellationToken ct = default) =>
        Session(await PostAsync("/api/user/login", new { account, password }, ct));

    public async Task<IReadOnlyList<ApiUser>> FriendsAsync(CancellationToken ct = default) =>
        Users(await GetAsync("/api/user/friends", ct));

    public async Task<IReadOnlyList<ApiUser>> SearchAsync(string keyword, CancellationToken ct = default) =>
        Users(await GetAsync("/api/user/search?keyword=" + Uri.EscapeDataString(keyword), ct));

    /// <summary>Sends a friend request; returns its id.</summary>
    public async Task<long> AddFriendAsync(long userId, string? message = null, CancellationToken ct = default) =>
        Id((await PostAsync("/api/user/friend/add", new { to_user_id = Text(userId), msg = message }, ct)).GetProperty("id"));

    public async Task<IReadOnlyList<ApiFriendRequest>> FriendRequestsAsync(CancellationToken ct = default) =>
        [.. Items(await GetAsync("/api/user/friend/requests", ct)).Select(r => new ApiFriendRequest(
            Id(r.GetProperty("id")), Id(r.GetProperty("from_user_id")), r.GetProperty("account").GetString() ?? "",
            r.TryGetProperty("msg", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : ""))];

    public async Task AcceptFriendAsync(long requestId, CancellationToken ct = default) =>
        await PostAsync("/api/user/friend/accept", new { id = Text(requestId) }, ct);

    /// <summary>Creates a group with the caller's friends; returns its id.</summary>
    public async Task<long> CreateGroupAsync(string name, IEnumerable<long> memberIds, CancellationToken ct = default) =>
        Id((await PostAsync("/api/group/create", new { name, member_ids = memberIds.Select(Text).ToArray() }, ct)).GetProperty("id"));

    public async Task<IReadOnlyList<ApiGroup>> GroupsAsync(CancellationToken ct = default) =>
        [.. Items(await GetAsync("/api/group/list", ct)).Select(g => new ApiGroup(
            Id(g.GetProperty("id")), g.GetProperty("name").GetString() ?? "", g.GetProperty("member_count").GetInt32()))];

    /// <summary>Blocks a user: their messages, invitations and typing to the caller are refused as "not allowed".</summary>
    public async Task BlockAsync(long userId, CancellationToken ct = default) =>
        await PostAsync("/api/user/friend/block", new { user_id = Text(userId) }, ct);

    public async Task UnblockAsync(long userId, CancellationToken ct = default) =>
        await PostAsync("/api/user/friend/unblock", new { user_id = Text(userId) }, ct);

    /// <summary>The users the caller blocks, newest first.</summary>
    public async Task<IReadOnlyList<ApiUser>> BlockedAsync(CancellationToken ct = default) =>
        Users(await GetAsync("/api/user/friend/blocks", ct));

    /// <summary>Read by: how far each other participant of a conversation received and read it.</summary>
    public async Task<ApiReceipts> ReceiptsAsync(string conversationId, CancellationToken ct = default)
    {
        var data = await GetAsync("/api/chat/receipts?conversation_id=" + Uri.EscapeDataString(conversationId), ct);
        return new ApiReceipts(data.GetProperty("last_seq").GetInt64(), [.. Items(data).Select(i => new ApiReceipt(
            Id(i.GetProperty("user_id")), i.GetProperty("arrived_seq").GetInt64(), i.GetProperty("read_seq").GetInt64()))]);
    }

    /// <summary>
    /// The caller's update-stream events after <paramref name="after"/> (friend and group events, each with
    /// <c>data.position</c>), oldest first: what a client fetches when it was offline or a push skipped a position.
    /// </summary>
    public async Task<ApiUpdates> UpdatesAsync(long after = 0, int limit = 100, CancellationToken ct = default)
    {
        var data = await GetAsync($"/api/user/updates?after={after}&limit={limit}", ct);
        return new ApiUpdates(
            [.. data.GetProperty("updates").EnumerateArray().Select(u => u.Clone())],
            data.GetProperty("last").GetInt64(), data.GetProperty("oldest").GetInt64(), data.GetProperty("more").GetBoolean());
    }

    private async Task<JsonElement> PostAsync(string path, object body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        return await SendAsync(request, ct);
    }

    private async Task<JsonElement> GetAsync(string path, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        return await SendAsync(request, ct);
    }

    private async Task<JsonElement> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        if (AccessToken is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(text).RootElement;
        }
        catch (JsonException)
        {
            throw new EasyImApiException((int)response.StatusCode, $"not an EasyIm answer: {text}");
        }
        var code = root.TryGetProperty("code", out var c) && c.TryGetInt32(out var n) ? n : (int)response.StatusCode;
        if (code != 200)
            throw new EasyImApiException(code, root.TryGetProperty("msg", out var msg) ? msg.GetString() ?? "" : text);
        return root.TryGetProperty("data", out var data) ? data.Clone() : default;
    }

    private ApiSession Session(JsonElement data)
    {
        var session = new ApiSession(Id(data.GetProperty("id")), data.GetProperty("nickname").GetString() ?? "", data.GetProperty("access_token").GetString()!);
        AccessToken = session.AccessToken;
        return session;
    }

    private static IEnumerable<JsonElement> Items(JsonElement data) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array
            ? items.EnumerateArray()
            : [];

    private static IReadOnlyList<ApiUser> Users(JsonElement data) =>
        [.. Items(data).Select(u => new ApiUser(Id(u.GetProperty("id")), u.GetProperty("account").GetString() ?? "",
            u.TryGetProperty("nickname", out var nick) && nick.ValueKind == JsonValueKind.String ? nick.GetString()! : ""))];

    private static long Id(JsonElement id) =>
        id.ValueKind == JsonValueKind.String ? long.Parse(id.GetString()!, CultureInfo.InvariantCulture) : id.GetInt64();

    private static string Text(long id) => id.ToString(CultureInfo.InvariantCulture);

    public void Dispose() => http.Dispose();
}

/// <summary>One participant's cursors: a message with seq S was delivered to them if <paramref name="ArrivedSeq"/> &gt;= S, read if <paramref name="ReadSeq"/> is.</summary>
public sealed record ApiReceipt(long UserId, long ArrivedSeq, long ReadSeq);

public sealed record ApiReceipts(long LastSeq, IReadOnlyList<ApiReceipt> Items);

/// <summary>The HTTP API refused a call: its <c>code</c> and <c>msg</c>.</summary>
public sealed class EasyImApiException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;
}

/// <summary>
/// A page of the update stream: each event is its push's content (<c>{"code","msg","data":{"key",...,"position"}}</c>);
/// <paramref name="Last"/> is the newest position, <paramref name="Oldest"/> the oldest kept, <paramref name="More"/> whether more follow.
/// </summary>
public sealed record ApiUpdates(IReadOnlyList<JsonElement> Events, long Last, long Oldest, bool More)
{
    /// <summary>An event's place in the stream.</summary>
    public static long PositionOf(JsonElement update) => update.GetProperty("data").GetProperty("position").GetInt64();
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using EasyIm.Client;
using EasyIm.Contracts.Wire;

namespace EasyIm.Chat;

/// <summary>
/// One user at a terminal: commands and text from <c>input</c>, everything that happens on
/// <c>output</c>, one line each. Incoming messages are acknowledged ARRIVED as they are shown.
/// </summary>
public sealed class ChatConsole(ChatOptions options, TextReader input, TextWriter output) : IAsyncDisposable
{
    public const string Help = """
        commands:
          /register <account> <password>   create an account and log in
          /login <account> <password>      log in
          /add <account> [message]         ask someone to be your friend
          /accept [account]                accept the friend requests waiting for you (all, or the one from account)
          /friends                         your friends
          /to <account|id> <text>          send to a friend; plain lines then go to them
          /group new <name> <account>...   make a group with friends
          /group <id> <text>               send to a group; plain lines then go to it
          /groups                          your groups
          /read                            mark what you received in the current chat read
          /quit                            leave (so does end of input)
          <text>                           send to the current chat
        """;

    private readonly EasyImApi _api = EasyImApi.Connect(options.Host, options.ApiPort);
    private readonly ConcurrentDictionary<long, string> _names = new();
    private readonly HashSet<string> _awaitingAck = [];
    private readonly Lock _lock = new();
    private EasyImClient? _client;
    private Task _receiving = Task.CompletedTask;
    private ApiSession? _session;
    private (Msg.Types.ChatType Type, long Id, string Label)? _current;
    private (string Conversation, ulong Seq)? _lastReceived;
    private uint _seq;

    /// <summary>Reads commands until /quit or the end of input. 0 when it ended so, 1 when the server closed the connection.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        if (_session is null)
            Say("not logged in: /login <account> <password> or /register <account> <password>  (/help for more)");
        while (!cancellationToken.IsCancellationRequested)
        {
            var line = await input.ReadLineAsync(cancellationToken);
            if (line is null)
                return 0;
            line = line.Trim();
            if (line.Length == 0)
                continue;
            if (_client is { IsClosed: true })
            {
                Say($"connection closed: {_client.CloseReason}");
                return 1;
            }
            try
            {
                if (!await CommandAsync(line, cancellationToken))
                    return 0;
            }
            catch (EasyImApiException ex)
            {
                Say($"error: {ex.Code} {ex.Message}");
            }
            catch (Exception ex) when (ex is IOException or TimeoutException or EasyImServerException or HttpRequestException or System.Net.Sockets.SocketException)
            {
                Say($"error: {ex.Message}");
            }
        }
        return 0;
    }

    public async Task<bool> LogInAsync(string account, string password, bool register, CancellationToken ct)
    {
        try
        {
            _session = register ? await _api.RegisterAsync(account, password, null, ct) : await _api.LoginAsync(account, password, ct);
        }
        catch (EasyImApiException ex)
        {
            Say($"error: {ex.Code} {ex.Message}");
            return false;
        }
        catch (HttpRequestException ex)
        {
            Say($"error: cannot reach the API at {options.Host}:{options.ApiPort} ({ex.Message})");
            return false;
        }
        _names[_session.UserId] = account;
        await RefreshFriendsAsync(ct);
        if (_client is not null)
        {
            await _client.DisposeAsync();
            await _receiving;
        }
        _client = await EasyImClient.ConnectAsync(options.Host, options.Port, options.Transport,
            new EasyImClientOptions { KeepAliveEvery = TimeSpan.FromSeconds(60) }, ct);
        await _client.HandshakeAsync(_session.UserId, _session.AccessToken, cancellationToken: ct);
        Say($"logged in as {account} (id {Id(_session.UserId)}) over {options.Transport}");
        _receiving = Task.Run(ReceiveAsync, CancellationToken.None);
        return true;
    }

    private async Task<bool> CommandAsync(string line, CancellationToken ct)
    {
        if (!line.StartsWith('/'))
        {
            if (_current is not { } to)
                Say("no chat chosen: /to <account> <text> or /group <id> <text>");
            else
                await SendAsync(to.Type, to.Id, to.Label, line, ct);
            return true;
        }
        var parts = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var verb = parts[0].ToLowerInvariant();
        if (verb is "/quit" or "/exit")
            return false;
        if (verb == "/help")
        {
            Say(Help);
            return true;
        }
        if (verb is "/login" or "/register")
        {
            if (parts.Length < 3)
                Say($"usage: {verb} <account> <password>");
            else
                await LogInAsync(parts[1], parts[2], verb == "/register", ct);
            return true;
        }
        if (_session is null || _client is null)
        {
            Say("log in first: /login <account> <password>");
            return true;
        }
        switch (verb)
        {
            case "/add" when parts.Length >= 2:
                var user = await FindUserAsync(parts[1], ct);
                if (user is null)
                    Say($"no user {parts[1]}");
                else
                    Say($"friend request {Id(await _api.AddFriendAsync(user.Id, parts.Length > 2 ? parts[2] : null, ct))} sent to {user.Account}");
                break;
            case "/accept":
                var requests = await _api.FriendRequestsAsync(ct);
                var chosen = requests.Where(r => parts.Length < 2 || string.Equals(r.Account, parts[1], StringComparison.OrdinalIgnoreCase)).ToList();
                if (chosen.Count == 0)
                    Say("no friend requests waiting");
                foreach (var request in chosen)
                {
                    await _api.AcceptFriendAsync(request.Id, ct);
                    _names[request.FromUserId] = request.Account;
                    Say($"{request.Account} is now your friend");
                }
                break;
            case "/friends":
                var friends = await RefreshFriendsAsync(ct);
                Say(friends.Count == 0 ? "no friends yet: /add <account>" : "friends: " + string.Join(", ", friends.Select(f => $"{f.Account} ({Id(f.Id)})")));
                break;
            case "/groups":
                var groups = await _api.GroupsAsync(ct);
                Say(groups.Count == 0 ? "no groups yet: /group new <name> <account>..." : "groups: " + string.Join(", ", groups.Select(g => $"{g.Name} ({Id(g.Id)}, {g.MemberCount} members)")));
                break;
            case "/to" when parts.Length >= 2:
                var friend = await FindFriendAsync(parts[1], ct);
                if (friend is null)
                {
                    Say($"{parts[1]} is not your friend: /add {parts[1]}");
                    break;
                }
                _current = (Msg.Types.ChatType.Single, friend.Id, friend.Account);
                if (parts.Length > 2)
                    await SendAsync(Msg.Types.ChatType.Single, friend.Id, friend.Account, parts[2], ct);
                else
                    Say($"now chatting with {friend.Account}");
                break;
            case "/group" when parts.Length >= 3 && parts[1] == "new":
                var words = parts[2].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var members = new List<long>();
                foreach (var name in words.Skip(1))
                {
                    if (await FindFriendAsync(name, ct) is { } member)
                        members.Add(member.Id);
                    else
                        Say($"{name} is not your friend; left out");
                }
                var groupId = await _api.CreateGroupAsync(words[0], members, ct);
                _current = (Msg.Types.ChatType.Group, groupId, words[0]);
                Say($"group {words[0]} created: id {Id(groupId)}");
                break;
            case "/group" when parts.Length >= 2 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var id):
                _current = (Msg.Types.ChatType.Group, id, "group " + Id(id));
                if (parts.Length > 2)
                    await SendAsync(Msg.Types.ChatType.Group, id, "group " + Id(id), parts[2], ct);
                else
                    Say($"now chatting in group {Id(id)}");
                break;
            case "/read":
                (string Conversation, ulong Seq)? lastReceived;
                lock (_lock)
                    lastReceived = _lastReceived;
                if (lastReceived is not { } last)
                {
                    Say("nothing received to mark read");
                    break;
                }
                await _client.SendAsync(Frames.Event("READ", new Dictionary<string, object?> { ["conversation_id"] = last.Conversation, ["seq"] = last.Seq }), ct);
                Say($"marked {last.Conversation} read up to #{last.Seq}");
                break;
            default:
                Say($"unknown command or missing arguments: {line} (/help)");
                break;
        }
        return true;
    }

    private async Task SendAsync(Msg.Types.ChatType type, long to, string label, string text, CancellationToken ct)
    {
        var seq = Interlocked.Increment(ref _seq);
        var clientMsgId = $"{Id(_session!.UserId)}-{seq}-{Guid.NewGuid().ToString("N")[..6]}";
        lock (_lock)
            _awaitingAck.Add(clientMsgId);
        await _client!.SendAsync(Frames.Chat(to, text, clientMsgId, seq, type), ct);
        Say($"-> {label}: {text}");
    }

    private async Task ReceiveAsync()
    {
        try
        {
            await foreach (var msg in _client!.ReadAllAsync())
                await ShowAsync(msg);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        if (_client is { } client)
            Say($"connection closed: {client.CloseReason}");
    }

    private async Task ShowAsync(Msg msg)
    {
        switch (msg.MsgType)
        {
            case Msg.Types.MsgType.Notify:
                Say($"server: {Frames.NotifyCode(msg)} {Frames.NotifyMessage(msg)}");
                return;
            case Msg.Types.MsgType.Event:
                await ShowEventAsync(msg);
                return;
        }
        bool mine;
        lock (_lock)
            mine = _awaitingAck.Remove(msg.ClientMsgId);
        if (msg.Status == Msg.Types.MsgStatus.Fail)
        {
            Say($"not sent: {msg.Error}");
            return;
        }
        if (mine)
        {
            Say($"sent #{msg.ConversationSeq} in {msg.ConversationId}");
            return;
        }
        var from = long.Parse(msg.FromUserId, CultureInfo.InvariantCulture);
        var where = msg.ChatType == Msg.Types.ChatType.Group ? $"group {msg.ToUserId} " : "";
        Say($"[{where}#{msg.ConversationSeq}] {Name(from)}: {(msg.MsgType == Msg.Types.MsgType.Text ? msg.Content : $"({msg.MsgType}) {msg.Content}")}");
        if (from == _session!.UserId)
            return;
        lock (_lock)
            _lastReceived = (msg.ConversationId, msg.ConversationSeq);
        // Delivered: the sender sees "arrived" (clients send ARRIVED for what they have shown).
        await _client!.SendAsync(Frames.Event("ARRIVED", new Dictionary<string, object?> { ["conversation_id"] = msg.ConversationId, ["seq"] = msg.ConversationSeq }));
    }

    private async Task ShowEventAsync(Msg msg)
    {
        if (Frames.Content(msg) is not { ValueKind: JsonValueKind.Object } content
            || !content.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("key", out var keyElement))
            return;
        var key = keyElement.GetString();
        long.TryParse(msg.FromUserId, CultureInfo.InvariantCulture, out var from);
        switch (key)
        {
            case "FRIEND_INVITE":
                var request = (await _api.FriendRequestsAsync()).FirstOrDefault(r => r.FromUserId == from);
                if (request is not null)
                    _names[from] = request.Account;
                Say($"friend request from {Name(from)}{(request is { Message.Length: > 0 } ? $": {request.Message}" : "")} (/accept {Name(from)})");
                break;
            case "FRIEND_AGREE":
                await RefreshFriendsAsync(CancellationToken.None);
                Say($"{Name(from)} accepted your friend request");
                break;
            case "ARRIVED" or "READ":
                var user = data.TryGetProperty("user_id", out var u) && long.TryParse(u.ToString(), CultureInfo.InvariantCulture, out var uid) ? uid : from;
                Say($"{Name(user)} {(key == "READ" ? "read" : "received")} {data.GetProperty("conversation_id").GetString()} up to #{data.GetProperty("seq")}");
                break;
            case "TYPING":
                Say($"{Name(from)} is typing");
                break;
            case "SYNC" when data.TryGetProperty("done", out var done) && done.ValueKind == JsonValueKind.True:
                Say("-- up to date --");
                break;
        }
    }

    private async Task<IReadOnlyList<ApiUser>> RefreshFriendsAsync(CancellationToken ct)
    {
        var friends = await _api.FriendsAsync(ct);
        foreach (var friend in friends)
            _names[friend.Id] = friend.Account;
        return friends;
    }

    private async Task<ApiUser?> FindFriendAsync(string who, CancellationToken ct) =>
        Match(await RefreshFriendsAsync(ct), who);

    private async Task<ApiUser?> FindUserAsync(string who, CancellationToken ct) =>
        Match(await _api.SearchAsync(who, ct), who);

    private static ApiUser? Match(IReadOnlyList<ApiUser> users, string who) =>
        users.FirstOrDefault(u => string.Equals(u.Account, who, StringComparison.OrdinalIgnoreCase) || Id(u.Id) == who);

    private string Name(long id) => _names.TryGetValue(id, out var name) ? name : $"user {Id(id)}";

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    private void Say(string line)
    {
        lock (_lock)
            output.WriteLine(line);
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
            await _client.DisposeAsync();
        await _receiving;
        _api.Dispose();
    }
}

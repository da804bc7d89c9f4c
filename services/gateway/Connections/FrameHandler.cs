using System.Text;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Delivery;
using EasyIm.Gateway.Wire;
using EasyIm.Hosting;
using EasyIm.Hosting.Bus;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// What a frame means: the heartbeat handshake first, then events and chat messages, each turned
/// into a bus message for the service that decides. The gateway only checks form, sender and cost:
/// every kind of frame draws from a budget of its connection and, for the costly kinds, of its user
/// (<see cref="ConnectionBudgets"/>, <see cref="UserBudgets"/>); a frame over budget is dropped and
/// answered NOTIFY 429, and a connection that keeps sending over budget is closed with NOTIFY 429.
/// </summary>
public sealed class FrameHandler(
    GatewayOptions options,
    GatewayIdentity gateway,
    ConnectionRegistry registry,
    MessagingOutbound messaging,
    IBus bus,
    TimeProvider time,
    ILogger<FrameHandler> logger,
    UserBudgets? userBudgets = null) : IDisposable
{
    /// <summary>Friend requests one connection may be waiting on at once.</summary>
    public const int MaxRequestsInFlight = 8;
    public const int MaxDeviceIdLength = 128;
    public const int MaxClientMsgIdLength = 128;
    public const int MaxConversationIdLength = 128;
    public const int MaxInviteMessageLength = 256;
    public const int MaxSyncConversations = 10_000;
    /// <summary>TYPING relays of one connection that may wait for the bus at once; more are dropped.</summary>
    public const int MaxTypingInFlight = 4;

    private readonly IRequestClient<ValidateAccessToken> _validate = bus.CreateRequestClient<ValidateAccessToken>(BusSetup.RequestTimeout);
    private readonly IRequestClient<SendFriendRequest> _invite = bus.CreateRequestClient<SendFriendRequest>(BusSetup.RequestTimeout);
    private readonly IRequestClient<AcceptFriendRequest> _agree = bus.CreateRequestClient<AcceptFriendRequest>(BusSetup.RequestTimeout);
    // The gateway's own, shared with the HTTP API; a container that has none (a unit test's) gets one of the handler's.
    private UserBudgets _users => Syncs.Budgets;

    /// <summary>How this gateway answers SYNCs, one page at a time, one sync per connection at a time.</summary>
    public SyncRunner Syncs { get; } = new(bus, options, userBudgets ?? new UserBudgets(options), time, logger);

    public void Dispose()
    {
        if (userBudgets is null)
            _users.Dispose();
    }

    /// <summary>Handles one decoded frame. Throws <see cref="FrameException"/> for a frame that breaks the protocol (NOTIFY 400, close).</summary>
    public ValueTask HandleAsync(LongConnection connection, Msg msg) =>
        connection.Session is null ? HandshakeAsync(connection, msg) : DispatchAsync(connection, connection.Session, msg);

    private async ValueTask HandshakeAsync(LongConnection connection, Msg msg)
    {
        const string expected = "the first frame must be the heartbeat: msg_type=4, from_user_id, access_token, content {\"key\":\"KEEP_ALIVE\"}";
        if (msg.MsgType != Msg.Types.MsgType.Event)
        {
            connection.Close(401, expected);
            return;
        }
        string? deviceId;
        long? after;
        using (var content = EventContent.Parse(msg.Content))
        {
            if (content.Key() != EventKeys.KeepAlive)
            {
                connection.Close(401, expected);
                return;
            }
            deviceId = content.OptionalString("device_id", MaxDeviceIdLength);
            // The device's position in the update stream: its connect-time sync brings what follows it.
            after = OptionalPosition(content, "after");
        }
        if (!TryParseId(msg.FromUserId, out var userId) || msg.AccessToken.Length == 0)
        {
            connection.Close(401, expected);
            return;
        }

        Response<AccessTokenValidated, RequestRejected> response;
        try
        {
            response = await _validate.GetResponse<AccessTokenValidated, RequestRejected>(new ValidateAccessToken(userId, msg.AccessToken), connection.Closing);
        }
        catch (RequestTimeoutException)
        {
            connection.Close(503, "the auth service did not answer in time; try again");
            return;
        }
        catch (OperationCanceledException) when (connection.IsClosing)
        {
            return;
        }
        if (response.Is(out Response<RequestRejected>? rejected))
        {
            logger.LogInformation("Connection {ConnectionId} refused for user {UserId}: {Reason}", connection.Id, userId, rejected.Message.Message);
            connection.Close(401, rejected.Message.Message);
            return;
        }
        if (connection.IsClosing || !response.Is(out Response<AccessTokenValidated>? validated))
            return;
        if (validated.Message.ExpiresAt <= time.GetUtcNow())
        {
            connection.Close(401, "access_token expired");
            return;
        }

        connection.Session = new Session(userId, deviceId, Grant(validated.Message));
        connection.ResetTimeout(options.DropAfterSpan);
        // Checked once the token is known good: a stranger naming the user cannot spend its budget.
        if (_users.TryTake(userId, FrameKind.Handshake) is { } handshakes)
        {
            logger.LogWarning("Connection {ConnectionId} of user {UserId} refused: {Budget}", connection.Id, userId, handshakes.Describe());
            connection.Close(429, handshakes.Describe() + "; wait before connecting again");
            return;
        }
        // Chat messages wait for the connect-time sync, so each conversation arrives in order.
        connection.SyncGate.FillGaps = after =>
        {
            logger.LogInformation("Connection {ConnectionId} waits for a lost push: asking again for {Conversations}",
                connection.Id, string.Join(", ", after.Select(a => $"{a.Key} after {a.Value}")));
            _ = PublishAsync(new SyncConversations(userId, connection.Id, after, GapFill: true));
        };
        connection.SyncGate.FillPositions = (after, upTo) =>
        {
            logger.LogInformation("Connection {ConnectionId} misses positions {From}..{UpTo} of user {UserId}'s stream: asking for them",
                connection.Id, after + 1, upTo, userId);
            _ = PublishAsync(new SyncConversations(userId, connection.Id, null, GapFill: true, After: after, UpTo: upTo));
        };
        connection.SyncGate.Begin();
        // The reply is queued as the registry admits the connection, before any push can find it.
        switch (registry.Admit(connection, () => connection.Send(ServerFrames.HeartbeatReply(userId)), out var replaced))
        {
            case Admission.Revoked:
                connection.Close(401, "the token was revoked (logout or secret reset)");
                return;
            case Admission.OverCap:
                logger.LogWarning("Connection {ConnectionId} of user {UserId} refused: the user has {Max} live connections on this gateway",
                    connection.Id, userId, options.MaxConnectionsPerUser);
                connection.Close(429, $"this user already has {options.MaxConnectionsPerUser} live connections (the most one user may hold); " +
                    $"close one, or send a device_id to replace that device's connection");
                return;
        }
        foreach (var old in replaced)
        {
            if (deviceId is not null && old.Session?.DeviceId == deviceId)
            {
                logger.LogInformation("Connection {ConnectionId} replaces {ReplacedConnectionId} of user {UserId}, device {DeviceId}",
                    connection.Id, old.Id, userId, deviceId);
                old.Close(409, "replaced by a newer connection of the same device");
            }
            else
            {
                logger.LogInformation("Connection {ConnectionId} replaces {ReplacedConnectionId} of user {UserId}, silent for {Silent}, at the cap of {Max} connections",
                    connection.Id, old.Id, userId, old.SilentFor, options.MaxConnectionsPerUser);
                old.Close(409, $"replaced by a newer connection of the same user: this one sent nothing for {options.ReplaceSilentAfter} seconds " +
                    $"while the user had {options.MaxConnectionsPerUser} connections (the most one user may hold)");
            }
        }
        logger.LogInformation("Connection {ConnectionId} authenticated as user {UserId} ({Transport}, {Format}, device {DeviceId})",
            connection.Id, userId, connection.Transport, connection.Format, deviceId);
        await PublishAsync(new UserConnected(userId, gateway.Id, connection.Id, deviceId, time.GetUtcNow(), SyncedByGateway: true));
        Syncs.Request(connection, null, after: after);
    }

    /// <summary>After the connection closed: forget it and, if it was someone's, say so.</summary>
    public async Task ClosedAsync(LongConnection connection)
    {
        registry.Closed(connection);
        // A connection refused at the handshake (revoked, over the cap) was never announced.
        if (connection.Admitted && connection.Session is { } session)
            await PublishAsync(new UserDisconnected(session.UserId, gateway.Id, connection.Id, time.GetUtcNow()));
    }

    private async ValueTask DispatchAsync(LongConnection connection, Session session, Msg msg)
    {
        if (msg.FromUserId.Length > 0 && msg.FromUserId != session.UserIdText && msg.AccessToken.Length > 0)
        {
            // Another user's id with a token: an attempt to move the connection to another user, not a slip.
            connection.Close(401, "a connection cannot change users: from_user_id with an access_token must be the connection's user");
            return;
        }
        if (msg.FromUserId.Length > 0 && msg.FromUserId != session.UserIdText)
        {
            // Refused, not closed: DESIGN says the frame is refused; the connection's own user is still who it was.
            connection.Send(ServerFrames.Notify(session.UserId, 403, "from_user_id is not this connection's user; the frame was dropped"));
            return;
        }
        switch (msg.MsgType)
        {
            case Msg.Types.MsgType.Text or Msg.Types.MsgType.Image or Msg.Types.MsgType.Voice or Msg.Types.MsgType.Video:
                await ChatAsync(connection, session, msg);
                return;
            case Msg.Types.MsgType.Event:
                await EventAsync(connection, session, msg);
                return;
            case Msg.Types.MsgType.Notify:
                throw new FrameException("clients do not send NOTIFY (msg_type=5)");
            default:
                throw new FrameException($"unknown msg_type {(int)msg.MsgType}");
        }
    }

    private async ValueTask ChatAsync(LongConnection connection, Session session, Msg msg)
    {
        if (!Admit(connection, FrameKind.Chat, msg))
            return;
        if (msg.Content.Length > 0 && _users.TryTake(connection.UserId, FrameKind.ChatBytes, Encoding.UTF8.GetByteCount(msg.Content)) is { } bytes)
        {
            Refuse(connection, msg, bytes);
            return;
        }
        var to = RequireId(msg.ToUserId, "to_user_id");
        var chatType = RequireChatType(msg.ChatType);
        if (msg.ClientMsgId.Length > MaxClientMsgIdLength)
            throw new FrameException($"client_msg_id must be at most {MaxClientMsgIdLength} characters");
        // It names this message's successor's predecessor (the submission chain) and is stored: it must be storable text.
        if (TextRules.Problem(msg.ClientMsgId) is { } idProblem)
            throw new FrameException("client_msg_id " + idProblem);
        // Content that can never be stored is answered here, as messaging would (FAIL, the connection stays), without
        // crossing the bus twice; it is not this connection's last message, so its successor does not wait for it.
        if (ContentProblem(msg.Content) is { } contentProblem)
        {
            connection.Send(ServerFrames.Fail(connection.UserId, msg, contentProblem));
            return;
        }
        var message = new WireMessage
        {
            Seq = msg.Seq,
            FromUserId = session.UserId,
            ToUserId = to,
            ChatType = chatType,
            MsgType = (int)msg.MsgType,
            Content = msg.Content,
            ClientMsgId = msg.ClientMsgId.Length > 0 ? msg.ClientMsgId : null,
        };
        // Frames of a connection are handled one after the other, so this chain follows its send order.
        var previous = connection.LastClientMsgId;
        if (message.ClientMsgId is not null)
            connection.LastClientMsgId = message.ClientMsgId;
        EasyImTelemetry.MessagesReceived.Add(1);
        if (!EasyImTelemetry.Tracing)
        {
            await messaging.SubmitAsync(new ChatSubmission(session.UserId, connection.Id, message, previous), connection.Closing);
            return;
        }
        // The root of the message's trace: from its decoding to its queueing for the bus.
        var span = EasyImTelemetry.StartMessageSpan("chat receive", ActivityKind.Server, null);
        try
        {
            span?.SetTag("easyim.user_id", session.UserId);
            span?.SetTag("easyim.connection_id", connection.Id);
            span?.SetTag("easyim.client_msg_id", message.ClientMsgId);
            span?.SetTag("network.transport", connection.Transport);
            await messaging.SubmitAsync(new ChatSubmission(session.UserId, connection.Id, message, previous, EasyImTelemetry.TraceParentOf(span)), connection.Closing);
        }
        finally
        {
            EasyImTelemetry.Stop(span);
        }
    }

    private async ValueTask EventAsync(LongConnection connection, Session session, Msg msg)
    {
        using var content = EventContent.Parse(msg.Content);
        switch (content.Key())
        {
            case EventKeys.KeepAlive:
                if (msg.AccessToken.Length > 0)
                    await RenewAsync(connection, session, msg.AccessToken);
                else if (Admit(connection, FrameKind.KeepAlive))
                    connection.Send(ServerFrames.HeartbeatReply(session.UserId));
                return;
            case EventKeys.FriendInvite:
            {
                var invitee = RequireId(msg.ToUserId, "to_user_id");
                var note = content.OptionalString("msg", MaxInviteMessageLength);
                if (!Admit(connection, FrameKind.FriendEvent))
                    return;
                StartRequest(connection, session, EventKeys.FriendInvite, async ct =>
                {
                    var response = await _invite.GetResponse<FriendRequestSent, RequestRejected>(new SendFriendRequest(session.UserId, invitee, note), ct);
                    return response.Is(out Response<FriendRequestSent>? sent) ? sent.Message.RequestId : Rejected(response);
                });
                return;
            }
            case EventKeys.FriendAgree:
            {
                var requestId = content.OptionalId("id");
                long? inviter = msg.ToUserId.Length > 0 ? RequireId(msg.ToUserId, "to_user_id") : null;
                if (requestId is null && inviter is null)
                    throw new FrameException("FRIEND_AGREE needs to_user_id (the inviter) or \"id\" (the request id)");
                if (!Admit(connection, FrameKind.FriendEvent))
                    return;
                StartRequest(connection, session, EventKeys.FriendAgree, async ct =>
                {
                    var response = await _agree.GetResponse<FriendRequestAccepted, RequestRejected>(new AcceptFriendRequest(session.UserId, requestId, inviter), ct);
                    return response.Is(out Response<FriendRequestAccepted>? accepted) ? accepted.Message.RequestId : Rejected(response);
                });
                return;
            }
            case EventKeys.Arrived or EventKeys.Read:
            {
                var conversation = content.OptionalString("conversation_id", MaxConversationIdLength);
                var seq = content.OptionalUInt64("seq");
                if (string.IsNullOrEmpty(conversation) || seq is null)
                    throw new FrameException($"{content.Key()} needs \"conversation_id\" and \"seq\"");
                var status = content.Key() == EventKeys.Arrived ? (int)Msg.Types.MsgStatus.Arrived : (int)Msg.Types.MsgStatus.Read;
                if (!Admit(connection, FrameKind.Receipt))
                    return;
                // Never waits: a receipt is coalesced with the same cursor's waiting one, or refused when this
                // connection already has too many waiting, so one connection's flood never holds up another's.
                if (!messaging.Record(new Receipt(session.UserId, conversation, seq.Value, status), connection))
                    Refuse(connection, $"{FrameBudget.Name(FrameKind.Receipt)} are over budget ({MessagingOutbound.MaxReceiptsWaitingPerConnection} of this connection, " +
                        "for different conversations, wait to be recorded); the frame was dropped");
                return;
            }
            case EventKeys.Sync:
            {
                var cursors = ReadCursors(content);
                var updatesAfter = OptionalPosition(content, "updates_after");
                var afterPosition = OptionalPosition(content, "after");
                if (Admit(connection, FrameKind.Sync))
                    Syncs.Request(connection, cursors, updatesAfter, afterPosition);
                return;
            }
            case EventKeys.Typing:
            {
                if (!Admit(connection, FrameKind.Chat))
                    return;
                var to = RequireId(msg.ToUserId, "to_user_id");
                var chatType = RequireChatType(msg.ChatType);
                // Typing is a hint, never stored, so the connection does not wait for the broker: the next
                // frame is read at once (and counted against the rate). A connection whose relays still
                // wait drops the new hint; clients repeat TYPING while the user types.
                if (!connection.TryBeginTyping(MaxTypingInFlight))
                    return;
                _ = RelayTypingAsync(connection, new RelayTyping(session.UserId, connection.Id, to, chatType));
                return;
            }
            default:
                throw new FrameException($"unknown event key \"{content.Key()}\"");
        }
    }

    private static TokenGrant Grant(AccessTokenValidated validated) => new(validated.TokenVersion, validated.SessionId, validated.ExpiresAt);

    /// <summary>
    /// A heartbeat with an access token renews the connection: a live token of the connection's user makes it
    /// the token the connection stands on (its expiry, session and version); any other token ends the
    /// connection with NOTIFY 401, as at the handshake. It costs auth a check, so besides the connection's
    /// heartbeat budget it draws from the user's handshake budget.
    /// </summary>
    private async ValueTask RenewAsync(LongConnection connection, Session session, string token)
    {
        if (!Admit(connection, FrameKind.KeepAlive, userKind: FrameKind.Handshake))
            return;
        Response<AccessTokenValidated, RequestRejected> response;
        try
        {
            response = await _validate.GetResponse<AccessTokenValidated, RequestRejected>(new ValidateAccessToken(session.UserId, token), connection.Closing);
        }
        catch (RequestTimeoutException)
        {
            // The connection keeps the token it stands on until that one expires; the client may try again.
            connection.Send(ServerFrames.Notify(session.UserId, 503, "the auth service did not answer in time; the token was not renewed, try again"));
            return;
        }
        catch (OperationCanceledException) when (connection.IsClosing)
        {
            return;
        }
        if (response.Is(out Response<RequestRejected>? rejected))
        {
            logger.LogInformation("Connection {ConnectionId} of user {UserId} presented a token that does not renew it: {Reason}",
                connection.Id, session.UserId, rejected.Message.Message);
            connection.Close(401, rejected.Message.Message);
            return;
        }
        if (connection.IsClosing || !response.Is(out Response<AccessTokenValidated>? validated))
            return;
        var grant = Grant(validated.Message);
        if (grant.ExpiresAt <= time.GetUtcNow())
        {
            connection.Close(401, "access_token expired");
            return;
        }
        session.Renew(grant);
        if (registry.IsRevoked(session.UserId, grant))
        {
            connection.Close(401, "the token was revoked (logout, secret reset or a reused refresh token)");
            return;
        }
        connection.Send(ServerFrames.HeartbeatReply(session.UserId));
    }

    /// <summary>
    /// Takes the frame's tokens from its connection's budget and, for the costly kinds, its user's (of
    /// <paramref name="userKind"/> when the user pays for it in another kind); false
    /// (the frame refused, see <see cref="Refuse"/>) when either is spent. A refused chat message is
    /// also answered with its FAIL, so the client knows which message to send again.
    /// </summary>
    private bool Admit(LongConnection connection, FrameKind kind, Msg? chat = null, FrameKind? userKind = null)
    {
        var over = connection.Budgets.TryTake(kind) ?? _users.TryTake(connection.UserId, userKind ?? kind);
        if (over is null)
            return true;
        Refuse(connection, chat, over);
        return false;
    }

    private void Refuse(LongConnection connection, Msg? chat, FrameBudget over)
    {
        var why = over.Describe() + "; the frame was dropped";
        if (chat is not null)
            connection.Send(ServerFrames.Fail(connection.UserId, chat, why));
        Refuse(connection, why);
    }

    /// <summary>Answers a dropped frame with NOTIFY 429; the refusal that makes too many within the window closes the connection.</summary>
    private void Refuse(LongConnection connection, string why)
    {
        if (!connection.Budgets.Refused())
        {
            connection.Send(ServerFrames.Notify(connection.UserId, 429, why));
            return;
        }
        var budgets = options.Budgets;
        logger.LogWarning("Connection {ConnectionId} of user {UserId} had {Refusals} frames refused within {Window} s (the last: {Why}); closing it",
            connection.Id, connection.UserId, budgets.RefusalsBeforeClose, budgets.RefusalWindow, why);
        connection.Close(429, $"{budgets.RefusalsBeforeClose} frames over budget within {budgets.RefusalWindow} seconds; the last: {why}");
    }

    /// <summary>Messaging's own words for content it would refuse whatever the sender's relationships.</summary>
    private string? ContentProblem(string content) =>
        content.Length == 0 ? "content must not be empty"
        : content.Length > options.MaxContentLength ? $"content must be at most {options.MaxContentLength} characters"
        : TextRules.Problem(content) is { } problem ? "content " + problem
        : null;

    /// <summary>A SYNC's stream position named <paramref name="name"/>, or null when absent; anything but a position is refused.</summary>
    private static long? OptionalPosition(JsonDocument content, string name) =>
        content.RootElement.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? EventContent.ReadUInt64(value, name) is var position and <= long.MaxValue
                ? (long)position
                : throw new FrameException($"\"{name}\" must be a position (a non-negative 64-bit integer)")
            : null;

    private static IReadOnlyDictionary<string, ulong>? ReadCursors(JsonDocument content)
    {
        if (!content.RootElement.TryGetProperty("conversations", out var conversations) || conversations.ValueKind == JsonValueKind.Null)
            return null;
        if (conversations.ValueKind != JsonValueKind.Object)
            throw new FrameException("\"conversations\" must be an object of conversation id to last seq");
        var cursors = new Dictionary<string, ulong>();
        foreach (var cursor in conversations.EnumerateObject())
        {
            try
            {
                _ = cursor.Name;
            }
            catch (InvalidOperationException)
            {
                throw new FrameException("a conversation id in \"conversations\" must be valid Unicode text (it holds an unpaired surrogate)");
            }
            if (cursors.Count == MaxSyncConversations)
                throw new FrameException($"\"conversations\" may name at most {MaxSyncConversations} conversations");
            if (cursor.Name.Length is 0 or > MaxConversationIdLength)
                throw new FrameException("a conversation id in \"conversations\" is empty or too long");
            if (TextRules.Problem(cursor.Name) is { } problem)
                throw new FrameException("a conversation id in \"conversations\" " + problem);
            cursors[cursor.Name] = EventContent.ReadUInt64(cursor.Value, "conversations." + cursor.Name);
        }
        return cursors;
    }

    /// <summary>
    /// Asks a service without holding up the connection's other frames; the answer comes back as
    /// the event form (with <c>data.id</c> = the request id) or as a NOTIFY with the service's code.
    /// </summary>
    private void StartRequest(LongConnection connection, Session session, string key, Func<CancellationToken, Task<long>> ask)
    {
        if (!connection.TryBeginRequest(MaxRequestsInFlight))
        {
            connection.Send(ServerFrames.Notify(session.UserId, 429, $"at most {MaxRequestsInFlight} friend requests may wait for an answer at once"));
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                var id = await ask(connection.Closing);
                connection.Send(ServerFrames.Event(session.UserId,
                    EventContent.Success(key, w => w.WriteString("id", id.ToString(CultureInfo.InvariantCulture)))));
            }
            catch (RejectedException rejected)
            {
                connection.Send(ServerFrames.Notify(session.UserId, rejected.Code, rejected.Message));
            }
            catch (RequestTimeoutException)
            {
                connection.Send(ServerFrames.Notify(session.UserId, 503, "the friends service did not answer in time; try again"));
            }
            catch (OperationCanceledException) when (connection.IsClosing)
            {
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "{Key} of connection {ConnectionId} failed", key, connection.Id);
                connection.Send(ServerFrames.Notify(session.UserId, 500, "internal error"));
            }
            finally
            {
                connection.EndRequest();
            }
        });
    }

    private static long Rejected<T>(Response<T, RequestRejected> response) where T : class
    {
        response.Is(out Response<RequestRejected>? rejected);
        throw new RejectedException(rejected!.Message.Code, rejected.Message.Message);
    }

    private sealed class RejectedException(int code, string message) : Exception(message)
    {
        public int Code { get; } = code;
    }

    private async Task RelayTypingAsync(LongConnection connection, RelayTyping typing)
    {
        try
        {
            await PublishAsync(typing);
        }
        finally
        {
            connection.EndTyping();
        }
    }

    private async Task PublishAsync<T>(T message) where T : class
    {
        try
        {
            await bus.Publish(message);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not publish {Message}", typeof(T).Name);
        }
    }

    private static bool TryParseId(string text, out long id) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id > 0;

    private static long RequireId(string text, string field) =>
        TryParseId(text, out var id) ? id : throw new FrameException($"{field} must be an id (a positive 64-bit integer, as a string)");

    private static int RequireChatType(Msg.Types.ChatType chatType) =>
        chatType is Msg.Types.ChatType.Single or Msg.Types.ChatType.Group
            ? (int)chatType
            : throw new FrameException($"unknown chat_type {(int)chatType}");
}

using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using EasyIm.Contracts;
using EasyIm.Contracts.Gateway;

namespace EasyIm.Gateway.Wire;

/// <summary>
/// The JSON text inside an event's <c>content</c>. The server writes easyim's form
/// <c>{"code":200,"msg":"SUCCESS","data":{"key":...}}</c>, and <c>{"code":N,"msg":...}</c> in a NOTIFY.
/// </summary>
public static class EventContent
{
    // Relaxed: messages stay readable (non-ASCII text is not \u-escaped); the result is a string field, never HTML.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonDocumentOptions ReadOptions = new() { MaxDepth = 16 };

    /// <summary><c>{"code":200,"msg":"SUCCESS","data":{"key":key, ...}}</c>; <paramref name="data"/> writes further properties of data.</summary>
    public static string Success(string key, Action<Utf8JsonWriter>? data = null) => Write(w =>
    {
        w.WriteNumber("code", 200);
        w.WriteString("msg", "SUCCESS");
        w.WriteStartObject("data");
        w.WriteString("key", key);
        data?.Invoke(w);
        w.WriteEndObject();
    });

    /// <summary>
    /// A service's event as the client gets it: each kind's fields under <c>data</c>, ids as decimal strings (as
    /// easyim wrote them), seqs and counts as numbers, and <c>position</c> last when the event is in the update stream.
    /// </summary>
    public static string Render(ClientEvent e) => e switch
    {
        FriendInviteEvent invite => Success(EventKeys.FriendInvite, w =>
        {
            w.WriteString("id", Id(invite.RequestId));
            w.WriteString("msg", invite.Message);
            Position(w, e);
        }),
        FriendAgreeEvent agree => Success(EventKeys.FriendAgree, w =>
        {
            w.WriteString("id", Id(agree.RequestId));
            Position(w, e);
        }),
        FriendRemoveEvent remove => Success(EventKeys.FriendRemove, w =>
        {
            w.WriteString("user_id", Id(remove.FormerFriendId));
            Position(w, e);
        }),
        GroupJoinEvent join => Success(EventKeys.GroupJoin, w =>
        {
            w.WriteString("group_id", Id(join.GroupId));
            w.WriteStartArray("user_ids");
            foreach (var user in join.UserIds)
                w.WriteStringValue(Id(user));
            w.WriteEndArray();
            w.WriteNumber("member_count", join.MemberCount);
            Position(w, e);
        }),
        GroupLeaveEvent leave => Success(EventKeys.GroupLeave, w =>
        {
            w.WriteString("group_id", Id(leave.GroupId));
            w.WriteString("user_id", Id(leave.UserId));
            w.WriteNumber("member_count", leave.MemberCount);
            if (leave.ByUserId > 0)
                w.WriteString("by_user_id", Id(leave.ByUserId));
            Position(w, e);
        }),
        ReceiptEvent receipt => Success(receipt.Read ? EventKeys.Read : EventKeys.Arrived, w =>
        {
            w.WriteString("conversation_id", receipt.ConversationId);
            w.WriteNumber("seq", receipt.Seq);
            w.WriteString("user_id", Id(receipt.UserId));
            if (receipt.UserIds is { Count: > 0 } readers)
            {
                w.WriteStartArray("user_ids");
                foreach (var reader in readers)
                    w.WriteStringValue(Id(reader));
                w.WriteEndArray();
            }
            Position(w, e);
        }),
        TypingEvent typing => Success(EventKeys.Typing, w =>
        {
            w.WriteString("conversation_id", typing.ConversationId);
            w.WriteString("user_id", Id(typing.UserId));
        }),
        SyncDoneEvent done => Success(EventKeys.Sync, w =>
        {
            w.WriteBoolean("done", true);
            if (done.Head > 0)
                w.WriteNumber("head", done.Head);
            if (done.PositionExpired)
                w.WriteBoolean("position_expired", true);
            if (done.RetainedFromSeq is not { Count: > 0 } retained)
                return;
            w.WriteStartObject("retained_from_seq");
            foreach (var (conversationId, seq) in retained.OrderBy(r => r.Key, StringComparer.Ordinal))
                w.WriteNumber(conversationId, seq);
            w.WriteEndObject();
        }),
        _ => throw new ArgumentException($"no client form for the event {e.GetType().Name}", nameof(e)),
    };

    private static string Id(long id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static void Position(Utf8JsonWriter w, ClientEvent e)
    {
        if (e.Position > 0)
            w.WriteNumber("position", e.Position);
    }

    /// <summary><c>{"code":code,"msg":message}</c>.</summary>
    public static string Notify(int code, string message) => Write(w =>
    {
        w.WriteNumber("code", code);
        w.WriteString("msg", message);
    });

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A client event's content: a JSON object with a string <c>key</c>; anything else is a <see cref="FrameException"/>.</summary>
    public static JsonDocument Parse(string content)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(content, ReadOptions);
        }
        catch (JsonException ex)
        {
            throw new FrameException("an event's content must be a JSON object with a \"key\": " + ex.Message, ex);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object
            || !doc.RootElement.TryGetProperty("key", out var key) || key.ValueKind != JsonValueKind.String)
        {
            doc.Dispose();
            throw new FrameException("an event's content must be a JSON object with a string \"key\"");
        }
        return doc;
    }

    public static string Key(this JsonDocument content) => StringOf(content.RootElement.GetProperty("key"), "key");

    /// <summary>
    /// A string value that services may store or query: JSON escapes can spell a NUL or an unpaired surrogate
    /// (which System.Text.Json refuses to turn into a string), and neither is text a store accepts.
    /// </summary>
    private static string StringOf(JsonElement value, string name)
    {
        string text;
        try
        {
            text = value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new FrameException($"\"{name}\" must be valid Unicode text (it holds an unpaired surrogate)");
        }
        return TextRules.Problem(text) is { } problem ? throw new FrameException($"\"{name}\" {problem}") : text;
    }

    /// <summary>An optional string property; a value of another type is a <see cref="FrameException"/>.</summary>
    public static string? OptionalString(this JsonDocument content, string name, int maxLength)
    {
        if (!content.RootElement.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind != JsonValueKind.String)
            throw new FrameException($"\"{name}\" must be a string");
        var text = StringOf(value, name);
        return text.Length <= maxLength ? text : throw new FrameException($"\"{name}\" must be at most {maxLength} characters");
    }

    /// <summary>An optional non-negative integer, as a JSON number or a numeric string.</summary>
    public static ulong? OptionalUInt64(this JsonDocument content, string name) =>
        content.RootElement.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? ReadUInt64(value, name)
            : null;

    public static ulong ReadUInt64(JsonElement value, string name) => value.ValueKind switch
    {
        JsonValueKind.Number when value.TryGetUInt64(out var n) => n,
        JsonValueKind.String when ulong.TryParse(StringOf(value, name), out var n) => n,
        _ => throw new FrameException($"\"{name}\" must be a non-negative integer"),
    };

    /// <summary>An optional positive 64-bit id, as a string (as ids are sent) or a number.</summary>
    public static long? OptionalId(this JsonDocument content, string name)
    {
        if (!content.RootElement.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind switch
        {
            JsonValueKind.String when long.TryParse(StringOf(value, name), out var id) && id > 0 => id,
            JsonValueKind.Number when value.TryGetInt64(out var id) && id > 0 => id,
            _ => throw new FrameException($"\"{name}\" must be an id (a positive 64-bit integer)"),
        };
    }
}

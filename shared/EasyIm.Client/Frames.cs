using System.Globalization;
using System.Text.Json;
using EasyIm.Contracts.Wire;

namespace EasyIm.Client;

/// <summary>Builds the frames a client sends and reads the ones it gets, per EasyIm's wire protocol (DESIGN.md).</summary>
public static class Frames
{
    public const string KeepAlive = "KEEP_ALIVE";

    /// <summary>
    /// The heartbeat: the first frame of a connection (with the token), and every later keep-alive. In the first,
    /// <paramref name="after"/> is the device's position in the update stream: the connect-time sync brings what follows it.
    /// </summary>
    public static Msg Heartbeat(long userId, string? accessToken = null, string? deviceId = null, ulong? after = null)
    {
        var content = new Dictionary<string, object?> { ["key"] = KeepAlive };
        if (deviceId is not null)
            content["device_id"] = deviceId;
        if (after is not null)
            content["after"] = after;
        return new Msg
        {
            MsgType = Msg.Types.MsgType.Event,
            FromUserId = Id(userId),
            AccessToken = accessToken ?? "",
            Content = JsonSerializer.Serialize(content),
        };
    }

    /// <summary>An event (<c>msg_type=4</c>) whose content is <c>{"key":key, ...fields}</c>.</summary>
    public static Msg Event(string key, IReadOnlyDictionary<string, object?>? fields = null, long toUserId = 0, Msg.Types.ChatType chatType = Msg.Types.ChatType.Single)
    {
        var content = new Dictionary<string, object?> { ["key"] = key };
        if (fields is not null)
        {
            foreach (var (name, value) in fields)
                content[name] = value;
        }
        return new Msg
        {
            MsgType = Msg.Types.MsgType.Event,
            ToUserId = Id(toUserId),
            ChatType = chatType,
            Content = JsonSerializer.Serialize(content),
        };
    }

    public static Msg Chat(long toUserId, string text, string clientMsgId, uint seq = 0, Msg.Types.ChatType chatType = Msg.Types.ChatType.Single) => new()
    {
        MsgType = Msg.Types.MsgType.Text,
        ChatType = chatType,
        ToUserId = Id(toUserId),
        Content = text,
        ClientMsgId = clientMsgId,
        Seq = seq,
    };

    /// <summary>A NOTIFY (<c>msg_type=5</c>), with <paramref name="code"/> when given.</summary>
    public static bool IsNotify(Msg msg, int? code = null) =>
        msg.MsgType == Msg.Types.MsgType.Notify && (code is null || NotifyCode(msg) == code);

    /// <summary>A server event in the success form with <c>data.key</c> = <paramref name="key"/>.</summary>
    public static bool IsEvent(Msg msg, string key)
    {
        if (msg.MsgType != Msg.Types.MsgType.Event)
            return false;
        var content = Content(msg);
        return content is { ValueKind: JsonValueKind.Object } c
            && c.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
            && data.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() == key;
    }

    /// <summary>The <c>code</c> of a NOTIFY or server event, or null.</summary>
    public static int? NotifyCode(Msg msg) =>
        Content(msg) is { ValueKind: JsonValueKind.Object } c && c.TryGetProperty("code", out var code) && code.TryGetInt32(out var n) ? n : null;

    /// <summary>The <c>msg</c> of a NOTIFY or server event, or null.</summary>
    public static string? NotifyMessage(Msg msg) =>
        Content(msg) is { ValueKind: JsonValueKind.Object } c && c.TryGetProperty("msg", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;

    /// <summary>The content parsed as JSON, or null when it is not JSON.</summary>
    public static JsonElement? Content(Msg msg)
    {
        if (msg.Content.Length == 0)
            return null;
        try
        {
            using var doc = JsonDocument.Parse(msg.Content);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Id(long id) => id == 0 ? "" : id.ToString(CultureInfo.InvariantCulture);
}

using EasyIm.Contracts.Wire;

namespace EasyIm.Gateway.Wire;

/// <summary>The frames the gateway itself writes to a connection.</summary>
public static class ServerFrames
{
    /// <summary>The heartbeat reply: <c>msg_type=4</c>, <c>to_user_id</c>=the user, easyim's KEEP_ALIVE success.</summary>
    public static Msg HeartbeatReply(long userId) => Event(userId, EventContent.Success(EventContent.KeepAlive));

    public static Msg Event(long userId, string content) => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        ToUserId = MsgCodec.IdText(userId),
        Content = content,
    };

    /// <summary>A NOTIFY (<c>msg_type=5</c>) with <c>{"code":..,"msg":..}</c>; <paramref name="userId"/> 0 before the handshake.</summary>
    public static Msg Notify(long userId, int code, string message) => new()
    {
        MsgType = Msg.Types.MsgType.Notify,
        ToUserId = MsgCodec.IdText(userId),
        Content = EventContent.Notify(code, message),
    };
}

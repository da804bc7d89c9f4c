using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;

namespace EasyIm.Gateway.Wire;

/// <summary>The frames the gateway itself writes to a connection.</summary>
public static class ServerFrames
{
    /// <summary>The heartbeat reply: <c>msg_type=4</c>, <c>to_user_id</c>=the user, easyim's KEEP_ALIVE success.</summary>
    public static Msg HeartbeatReply(long userId) => Event(userId, EventContent.Success(EventKeys.KeepAlive));

    public static Msg Event(long userId, string content) => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        ToUserId = MsgCodec.IdText(userId),
        Content = content,
    };

    /// <summary>
    /// The FAIL ack of a chat message the gateway itself refused (over budget): status 0 with the reason in
    /// <c>error</c>, the client's <c>seq</c>, <c>client_msg_id</c> and addressing echoed so it can match it.
    /// </summary>
    public static Msg Fail(long userId, Msg refused, string error) => new()
    {
        Seq = refused.Seq,
        FromUserId = MsgCodec.IdText(userId),
        ToUserId = refused.ToUserId,
        ChatType = refused.ChatType,
        MsgType = refused.MsgType,
        Status = Msg.Types.MsgStatus.Fail,
        ClientMsgId = refused.ClientMsgId,
        Error = error,
    };

    /// <summary>A NOTIFY (<c>msg_type=5</c>) with <c>{"code":..,"msg":..}</c>; <paramref name="userId"/> 0 before the handshake.</summary>
    public static Msg Notify(long userId, int code, string message) => new()
    {
        MsgType = Msg.Types.MsgType.Notify,
        ToUserId = MsgCodec.IdText(userId),
        Content = EventContent.Notify(code, message),
    };
}

namespace EasyIm.Contracts.Gateway;

/// <summary>
/// The client envelope (<c>Msg</c> in msg.proto) as it travels on the bus: protobuf types never
/// do. Ids are numbers here; the gateway writes them as strings on the wire.
/// </summary>
public sealed record WireMessage
{
    public long Id { get; init; }
    public uint Seq { get; init; }
    public long FromUserId { get; init; }
    public long ToUserId { get; init; }
    public int ChatType { get; init; }
    public int MsgType { get; init; }
    public int Status { get; init; }
    public string Content { get; init; } = "";
    public string? ClientMsgId { get; init; }
    public string? ConversationId { get; init; }
    public ulong ConversationSeq { get; init; }
    public long SentAt { get; init; }
    public string? Error { get; init; }
}

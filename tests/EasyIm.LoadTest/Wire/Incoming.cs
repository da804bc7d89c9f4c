namespace EasyIm.LoadTest.Wire;

/// <summary>
/// A frame from the server, decoded only as far as the load client needs. Text fields are UTF-8
/// views into the receive buffer: valid during the handler call only.
/// </summary>
public ref struct Incoming
{
    public const int Text = 0;
    public const int Video = 3;
    public const int Event = 4;
    public const int Notify = 5;
    public const int StatusSent = 1;

    public int MsgType;
    public int ChatType;
    public int Status;
    public long Id;
    /// <summary>The client's own counter, echoed in its SENT ack or FAIL (left out of deliveries).</summary>
    public uint Seq;
    public long FromUserId;
    public long ToUserId;
    public ulong ConversationSeq;
    public ReadOnlySpan<byte> Content;
    public ReadOnlySpan<byte> ClientMsgId;
    public ReadOnlySpan<byte> ConversationId;
    public ReadOnlySpan<byte> Error;

    /// <summary>A chat message (text, image, voice or video), not an event or a NOTIFY.</summary>
    public readonly bool IsChat => MsgType is >= Text and <= Video;
}

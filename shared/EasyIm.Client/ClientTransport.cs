namespace EasyIm.Client;

/// <summary>How a client reaches the gateway's long-connection port, and the format it speaks.</summary>
public enum ClientTransport
{
    /// <summary>Raw TCP, one JSON <c>Msg</c> per line (what <c>nc</c> does).</summary>
    TcpJson,
    /// <summary>Raw TCP, protobuf <c>Msg</c> frames each prefixed with its varint length.</summary>
    TcpProtobuf,
    /// <summary>WebSocket, one JSON <c>Msg</c> per text message.</summary>
    WebSocketJson,
    /// <summary>WebSocket, one protobuf <c>Msg</c> per binary message.</summary>
    WebSocketProtobuf,
}

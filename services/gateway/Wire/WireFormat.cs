namespace EasyIm.Gateway.Wire;

/// <summary>How a connection encodes its frames; it is answered in the format it first used.</summary>
public enum WireFormat
{
    Json,
    Protobuf,
}

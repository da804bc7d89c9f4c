using EasyIm.Contracts.Gateway;
using EasyIm.Gateway.Wire;

namespace EasyIm.UnitTests;

/// <summary>A message's <c>content</c> as the client reads it: a typed event rendered by the gateway, any other content as it is.</summary>
internal static class WireText
{
    public static string Text(this WireMessage message) => MsgCodec.FromWire(message).Content;
}

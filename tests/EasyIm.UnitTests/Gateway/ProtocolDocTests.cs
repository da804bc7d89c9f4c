using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// docs/protocol.md cannot drift from the code: its JSON frames are read with the gateway's codec, the
/// ones the server writes must be exactly what its encoder writes for them, and its hex dumps must decode
/// to the JSON frame above them.
/// </summary>
public sealed partial class ProtocolDocTests
{
    private static readonly Lazy<List<Block>> Blocks = new(ReadBlocks);

    private sealed record Block(string Kind, string Text, int Line);

    public static IEnumerable<object[]> Frames(string kind) =>
        Blocks.Value.Where(b => b.Kind == kind).Select(b => new object[] { b.Line });

    [Fact]
    public void The_document_has_examples_of_every_kind()
    {
        Assert.True(Blocks.Value.Count(b => b.Kind == "json frame") >= 10);
        Assert.True(Blocks.Value.Count(b => b.Kind == "json server") >= 10);
        Assert.True(Blocks.Value.Count(b => b.Kind == "hex") >= 3);
    }

    [Theory]
    [MemberData(nameof(Frames), "json frame")]
    public void A_client_frame_example_is_read_by_the_gateway(int line)
    {
        var msg = Read(At(line));

        if (msg.MsgType == Msg.Types.MsgType.Event)
        {
            // The gateway's event reader takes the content, and knows its key.
            using var content = EventContent.Parse(msg.Content);
            Assert.Contains(content.Key(), new[] { "KEEP_ALIVE", "FRIEND_INVITE", "FRIEND_AGREE", "ARRIVED", "READ", "SYNC", "TYPING" });
        }
        else
        {
            Assert.InRange((int)msg.MsgType, 0, 3);
            Assert.NotEmpty(msg.ToUserId);
        }
    }

    [Theory]
    [MemberData(nameof(Frames), "json server")]
    public void A_server_frame_example_is_what_the_gateway_writes(int line)
    {
        var text = At(line).Text;
        var written = MsgJson.ToBytes(Read(At(line)));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(text), JsonNode.Parse(written)),
            $"line {line}: the gateway writes {Encoding.UTF8.GetString(written)}");
        // Events and notices carry easyim's {"code":..,"msg":..} content.
        var msg = Read(At(line));
        if (msg.MsgType is Msg.Types.MsgType.Event or Msg.Types.MsgType.Notify)
        {
            using var content = JsonDocument.Parse(msg.Content);
            Assert.True(content.RootElement.GetProperty("code").GetInt32() >= 200);
            Assert.Equal(JsonValueKind.String, content.RootElement.GetProperty("msg").ValueKind);
        }
    }

    [Theory]
    [MemberData(nameof(Frames), "hex")]
    public void A_protobuf_example_decodes_to_the_json_frame_above_it(int line)
    {
        var hex = At(line);
        var json = Blocks.Value.Last(b => b.Line < line && b.Kind.StartsWith("json", StringComparison.Ordinal));
        var bytes = Convert.FromHexString(string.Concat(hex.Text.Split('\n').Select(l => l.Split('#')[0].Replace(" ", "", StringComparison.Ordinal))));

        using var stream = new MemoryStream(bytes);
        var decoded = Msg.Parser.ParseDelimitedFrom(stream);

        Assert.Equal(bytes.Length, stream.Position); // the prefix says exactly how long the frame is
        Assert.Equal(Read(json), decoded);
        // And the gateway's own reader cuts the same frame from the stream.
        var sequence = new ReadOnlySequence<byte>(bytes);
        Assert.True(new VarintFrameReader(65536).TryParseFrame(ref sequence, out var frame));
        Assert.Equal(decoded, MsgCodec.DecodeProtobuf(frame));
    }

    private static Msg Read(Block block)
    {
        try
        {
            return MsgJson.Read(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(block.Text)));
        }
        catch (FrameException ex)
        {
            throw new Xunit.Sdk.XunitException($"docs/protocol.md line {block.Line}: the gateway refuses the frame: {ex.Message}");
        }
    }

    private static Block At(int line) => Blocks.Value.Single(b => b.Line == line);

    private static List<Block> ReadBlocks()
    {
        var text = File.ReadAllText(FindDoc()).ReplaceLineEndings("\n");
        return [.. Fence().Matches(text).Select(m => new Block(
            m.Groups["kind"].Value.Trim(),
            m.Groups["body"].Value.Trim(),
            text[..m.Index].Count(c => c == '\n') + 1))
            .Where(b => b.Kind is "json frame" or "json server" or "hex")];
    }

    private static string FindDoc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "docs", "protocol.md");
            if (File.Exists(path))
                return path;
        }
        throw new FileNotFoundException("docs/protocol.md not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^```(?<kind>[a-z ]+)\n(?<body>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();
}

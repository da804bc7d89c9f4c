using System.Text.Json;
using EasyIm.Contracts.Gateway;
using EasyIm.Gateway.Apis;

namespace EasyIm.UnitTests.Messaging;

public sealed class ChatApiJsonTests
{
    [Fact]
    public void History_items_are_in_the_wire_json_form_with_proto_names_string_ids_and_integer_enums()
    {
        var json = ChatApi.ToJson(new WireMessage
        {
            Id = 384516159929581568,
            FromUserId = 7,
            ToUserId = 9,
            ChatType = 1,
            MsgType = 2,
            Status = 3,
            Content = "你好 \"there\"",
            ClientMsgId = "c-1",
            ConversationId = "g_9",
            ConversationSeq = 12,
            SentAt = 1795742950029,
        });

        Assert.Equal("384516159929581568", json.GetProperty("id").GetString());
        Assert.Equal(("7", "9"), (json.GetProperty("from_user_id").GetString(), json.GetProperty("to_user_id").GetString()));
        Assert.Equal((1, 2, 3), (json.GetProperty("chat_type").GetInt32(), json.GetProperty("msg_type").GetInt32(), json.GetProperty("status").GetInt32()));
        Assert.Equal("你好 \"there\"", json.GetProperty("content").GetString());
        Assert.Equal(("c-1", "g_9"), (json.GetProperty("client_msg_id").GetString(), json.GetProperty("conversation_id").GetString()));
        Assert.Equal(("12", "1795742950029"), (json.GetProperty("conversation_seq").GetString(), json.GetProperty("sent_at").GetString()));
        // Zero values are left out, as protobuf's JSON mapping does: no access_token, no error, no seq.
        Assert.False(json.TryGetProperty("access_token", out _));
        Assert.False(json.TryGetProperty("error", out _));
        Assert.False(json.TryGetProperty("seq", out _));
        Assert.Equal(JsonValueKind.Object, json.ValueKind);
    }
}

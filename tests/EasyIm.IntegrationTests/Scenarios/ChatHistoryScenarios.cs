using System.Text.Json;
using EasyIm.Contracts.Messaging;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// The chat routes over HTTP: who may read what, and every bad input. (Messages themselves arrive over
/// the socket layer; history with content is covered end to end once the sockets are merged.)
/// </summary>
public abstract class ChatHistoryScenarios(EasyImShape shape)
{
    [SkippableFact]
    public async Task A_participant_reads_a_conversation_with_no_messages_yet_and_a_new_user_has_no_conversations()
    {
        shape.RequireAvailable();
        var (me, peer) = (await shape.NewUserAsync(), await shape.NewUserAsync());
        var conversation = ConversationId.ForPair(me.Id, peer.Id).ToString();

        var history = await shape.GetAsync($"/api/chat/history?conversation_id={conversation}", me.AccessToken);
        var viaQueryToken = await shape.GetAsync($"/api/chat/history?conversation_id={conversation}&limit=200&before_seq=10&access_token={peer.AccessToken}");
        var conversations = await shape.GetAsync("/api/chat/conversations", me.AccessToken);

        Assert.Equal((200, 200), (history.Status, history.Code));
        Assert.Equal(0, history.Data.GetProperty("total").GetInt64());
        Assert.Equal(JsonValueKind.Array, history.Data.GetProperty("items").ValueKind);
        Assert.Equal(0, history.Data.GetProperty("items").GetArrayLength());
        Assert.Equal(200, viaQueryToken.Status);
        Assert.Equal(200, conversations.Status);
        Assert.Equal(0, conversations.Data.GetProperty("items").GetArrayLength());
    }

    [SkippableFact]
    public async Task History_of_a_conversation_the_caller_is_not_in_is_forbidden()
    {
        shape.RequireAvailable();
        var (a, b, outsider) = (await shape.NewUserAsync(), await shape.NewUserAsync(), await shape.NewUserAsync());

        var reply = await shape.GetAsync($"/api/chat/history?conversation_id={ConversationId.ForPair(a.Id, b.Id)}", outsider.AccessToken);

        Assert.Equal((403, 403), (reply.Status, reply.Code));
        Assert.False(string.IsNullOrWhiteSpace(reply.Msg));
        Assert.Equal(200, (await shape.GetAsync($"/api/chat/history?conversation_id={ConversationId.ForPair(a.Id, b.Id)}", a.AccessToken)).Status);
    }

    [SkippableFact]
    public async Task History_of_a_group_the_caller_is_not_in_is_forbidden()
    {
        shape.RequireAvailable();
        var outsider = await shape.NewUserAsync();

        var reply = await shape.GetAsync($"/api/chat/history?conversation_id=g_{outsider.Id + 7}", outsider.AccessToken);

        Assert.Equal((403, 403), (reply.Status, reply.Code));
    }

    [SkippableFact]
    public async Task History_and_conversations_need_a_live_token()
    {
        shape.RequireAvailable();
        var (a, b) = (await shape.NewUserAsync(), await shape.NewUserAsync());
        var history = $"/api/chat/history?conversation_id={ConversationId.ForPair(a.Id, b.Id)}";

        var replies = new[]
        {
            await shape.GetAsync(history),
            await shape.GetAsync("/api/chat/conversations"),
            await shape.GetAsync(history, "not.a.token"),
            await shape.GetAsync("/api/chat/conversations", "not.a.token"),
            await shape.GetAsync(history, a.RefreshToken),
        };

        Assert.All(replies, r => Assert.Equal((401, 401), (r.Status, r.Code)));
        Assert.Equal(200, (await shape.GetAsync(history, a.AccessToken)).Status);
    }

    public static TheoryData<string, string> BadHistoryQueries => new()
    {
        { "", "conversation_id" },
        { "conversation_id=", "conversation_id" },
        { "conversation_id=hello", "conversation_id" },
        { "conversation_id=s_2_1", "conversation_id" },           // not in numeric order
        { "conversation_id=s_5_5", "conversation_id" },
        { "conversation_id=s_01_2", "conversation_id" },          // not canonical
        { "conversation_id=g_abc", "conversation_id" },
        { "conversation_id=g_-1", "conversation_id" },
        { $"conversation_id=s_1_{new string('9', 60)}", "conversation_id" },
        { "conversation_id={c}&limit=0", "limit" },
        { "conversation_id={c}&limit=201", "limit" },
        { "conversation_id={c}&limit=-5", "limit" },
        { "conversation_id={c}&limit=ten", "limit" },
        { "conversation_id={c}&before_seq=0", "before_seq" },
        { "conversation_id={c}&before_seq=-1", "before_seq" },
        { "conversation_id={c}&before_seq=x", "before_seq" },
        { "conversation_id={c}&before_seq=99999999999999999999999", "before_seq" },
    };

    [SkippableTheory]
    [MemberData(nameof(BadHistoryQueries))]
    public async Task Bad_history_input_is_refused_naming_the_field(string query, string field)
    {
        shape.RequireAvailable();
        var (me, peer) = (await shape.NewUserAsync(), await shape.NewUserAsync());
        var conversation = ConversationId.ForPair(me.Id, peer.Id).ToString();

        var reply = await shape.GetAsync("/api/chat/history?" + query.Replace("{c}", conversation), me.AccessToken);

        Assert.Equal((400, 400), (reply.Status, reply.Code));
        Assert.Equal(field, reply.Data.GetProperty("field").GetString());
        Assert.Contains(field, reply.Msg);
        // And the server goes on serving.
        Assert.Equal(200, (await shape.GetAsync($"/api/chat/history?conversation_id={conversation}", me.AccessToken)).Status);
    }

    [SkippableFact]
    public async Task The_chat_routes_are_in_the_openapi_document()
    {
        shape.RequireAvailable();

        var document = await shape.Http.GetStringAsync("/openapi/v1.json");

        Assert.Contains("/api/chat/history", document);
        Assert.Contains("/api/chat/conversations", document);
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneChatHistoryScenarios(StandaloneShape shape) : ChatHistoryScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedChatHistoryScenarios(DistributedShape shape) : ChatHistoryScenarios(shape);

namespace EasyIm.Contracts.Friends;

/// <summary>Published for each member who joins, the owner at creation included.</summary>
public sealed record GroupMemberAdded(long GroupId, long UserId, string Role, DateTimeOffset At);

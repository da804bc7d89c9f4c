namespace EasyIm.Friends.Data;

public enum FriendRequestStatus
{
    Pending,
    Accepted,
    Rejected,
}

public sealed class FriendRequest
{
    public long Id { get; set; }
    public long FromUserId { get; set; }
    public long ToUserId { get; set; }
    public string? Message { get; set; }
    /// <summary>A concurrency token: of two answers racing, the second fails and is re-evaluated.</summary>
    public FriendRequestStatus Status { get; set; }
    public long CreatedAtMs { get; set; }
    public long? AnsweredAtMs { get; set; }
    /// <summary>The bus message id of the <c>SendFriendRequest</c> that made it, so a redelivery answers the same.</summary>
    public Guid? CommandId { get; set; }
    /// <summary>The bus message id of the accept or reject that answered it, for the same reason.</summary>
    public Guid? AnswerCommandId { get; set; }
}

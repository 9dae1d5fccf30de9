"""Where a sent invoice goes. Today nowhere: `send` records that the invoice was sent (the seed's
markInvoiceSent), and the client delivers it. Email delivery plugs in here later (see
service_layer/invoices.py, Delivery)."""

from invoicing.domain.model import Invoice


class RecordOnly:
    """Delivers nothing: sending only records sentDate and sentTo."""

    def deliver(self, invoice: Invoice) -> None:
        pass

package vygoda.bench.kstreams;

import java.util.List;

/** The fields of a product the bans look at; brand and description may be null. */
record Product(String productId, String brand, String name, String description, List<String> tags) {}
